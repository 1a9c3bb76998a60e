"""The selection on real public series (tests/data/series): trained on the first 80 %, scored on
the last 20 % with one-step forecasts, as the training pipeline scores a model."""

import numpy as np
import pytest

from ml import Hyperparameters, PerceptronForecaster
from ml.candidates import fixed_window
from ml.evaluation import holdout_predictions
from ml.selection import select
from tests.ml import real_series

# Worse than the fixed-window unit by at most this share on the holdout: the backtest never sees
# it, so a choice that is better on the folds can still lose a little there.
TOLERANCE = 0.02


def _rmse(model: PerceptronForecaster, values: np.ndarray, start: int) -> float:
    return float(np.sqrt(np.mean((holdout_predictions(model, values, start) - values[start:]) ** 2)))


def test_every_frequency_is_shipped() -> None:
    steps = {name: real_series.load(name)[2] for name in real_series.names()}
    days = sorted(round(step / 86_400, 2) for step in steps.values())
    assert 1_800.0 in steps.values() and 3_600.0 in steps.values()
    assert any(d == 1 for d in days) and any(d == 7 for d in days)
    assert any(28 <= d <= 31 for d in days) and any(89 <= d <= 92 for d in days) and days[-1] >= 365
    for name in real_series.names():
        timestamps, values, _ = real_series.load(name)
        assert len(values) == len(timestamps) <= 3000 and np.all(np.isfinite(values))
        assert np.all(np.diff(timestamps) > np.timedelta64(0, "s"))


@pytest.mark.parametrize("name", real_series.names())
def test_selection_is_no_worse_than_the_fixed_window_and_beats_naive(name: str) -> None:
    _, values, step = real_series.load(name)
    start = real_series.split(values)
    train = values[:start]
    fixed = PerceptronForecaster(Hyperparameters(window_size=fixed_window(start))).fit(train)
    selection = select(train, step)
    tuned = _rmse(selection.model, values, start)
    naive = float(np.sqrt(np.mean((values[start:] - values[start - 1 : -1]) ** 2)))
    assert tuned <= (1 + TOLERANCE) * _rmse(fixed, values, start), selection.report()
    assert tuned < naive, selection.report()
    assert selection.plan is not None and len(selection.candidates) == selection.grid_size
