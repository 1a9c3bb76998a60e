"""The forecasting model: pure numpy, no I/O. Nothing here imports pipelines/ or serving/."""

import importlib
from typing import TYPE_CHECKING, Any

# Exported names load their modules on first use, so `import ml.errors` (as the settings and
# the CLI do) loads no backtests or selection. `ml.backtest` is the module (its `backtest`
# function is not exported here: the name would mean one or the other by import order).
_EXPORTS = {
    "BacktestResult": "ml.backtest",
    "FoldPlan": "ml.folds",
    "plan_folds": "ml.folds",
    "candidate_grid": "ml.candidates",
    "combine": "ml.ensemble",
    "ForecastInputError": "ml.errors",
    "ModelFormatError": "ml.errors",
    "evaluate": "ml.evaluation",
    "holdout_predictions": "ml.evaluation",
    "Hyperparameters": "ml.forecaster",
    "Member": "ml.forecaster",
    "PerceptronForecaster": "ml.forecaster",
    "fit_many": "ml.forecaster",
    "PredictionIntervals": "ml.intervals",
    "calibrate": "ml.intervals",
    "CandidateScore": "ml.selection",
    "Selection": "ml.selection",
    "choose": "ml.selection",
    "score_candidate": "ml.selection",
    "select": "ml.selection",
}

if TYPE_CHECKING:
    from ml.backtest import BacktestResult
    from ml.candidates import candidate_grid
    from ml.ensemble import combine
    from ml.errors import ForecastInputError, ModelFormatError
    from ml.evaluation import evaluate, holdout_predictions
    from ml.folds import FoldPlan, plan_folds
    from ml.forecaster import Hyperparameters, Member, PerceptronForecaster, fit_many
    from ml.intervals import PredictionIntervals, calibrate
    from ml.selection import CandidateScore, Selection, choose, score_candidate, select


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ml' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
