"""The forecasting model: pure numpy, no I/O. Nothing here imports pipelines/ or serving/."""

from ml.errors import ForecastInputError, ModelFormatError
from ml.evaluation import evaluate, holdout_predictions
from ml.forecaster import Hyperparameters, PerceptronForecaster
from ml.intervals import PredictionIntervals, calibrate

__all__ = [
    "ForecastInputError",
    "Hyperparameters",
    "ModelFormatError",
    "PerceptronForecaster",
    "PredictionIntervals",
    "calibrate",
    "evaluate",
    "holdout_predictions",
]
