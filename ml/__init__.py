"""The forecasting model: pure numpy, no I/O. Nothing here imports pipelines/ or serving/."""

from ml.backtest import BacktestResult, FoldPlan, backtest, plan_folds
from ml.candidates import candidate_grid
from ml.ensemble import combine
from ml.errors import ForecastInputError, ModelFormatError
from ml.evaluation import evaluate, holdout_predictions
from ml.forecaster import Hyperparameters, Member, PerceptronForecaster, fit_many
from ml.intervals import PredictionIntervals, calibrate
from ml.selection import CandidateScore, Selection, choose, score_candidate, select

__all__ = [
    "BacktestResult",
    "CandidateScore",
    "FoldPlan",
    "ForecastInputError",
    "Hyperparameters",
    "Member",
    "ModelFormatError",
    "PerceptronForecaster",
    "PredictionIntervals",
    "Selection",
    "backtest",
    "calibrate",
    "candidate_grid",
    "choose",
    "combine",
    "evaluate",
    "fit_many",
    "holdout_predictions",
    "plan_folds",
    "score_candidate",
    "select",
]
