import numpy as np
import pytest

from ml import Hyperparameters, PerceptronForecaster, calibrate
from ml.errors import ForecastInputError
from ml.evaluation import evaluate, horizon_metrics
from tests.ml.series_factory import ar


def _coverage(model: PerceptronForecaster, values: np.ndarray, start: int, horizon: int) -> float:
    """Share of actual values inside the bounds, for every origin in values[start:] and `horizon` steps."""
    from numpy.lib.stride_tricks import sliding_window_view

    w = model.window_size
    origins = np.arange(start, len(values) - horizon + 1)
    inputs = sliding_window_view(values, w)[origins - w]
    forecasts = model.forecast_windows(inputs, horizon)
    lower, upper = model.bounds(forecasts)
    actual = values[origins[:, None] + np.arange(horizon)]
    return float(np.mean((actual >= lower) & (actual <= upper)))


@pytest.mark.parametrize("level", [0.8, 0.9])
def test_intervals_calibrated_on_one_holdout_cover_the_next(level: float) -> None:
    rng = np.random.default_rng(5)
    values = 50 + ar(rng, 6000, [0.7, 0.2], scale=2.0)
    model = PerceptronForecaster(Hyperparameters(window_size=12)).fit(values[:3000])
    model.intervals = calibrate(model.forecast_windows, values[:4500], 3000, 12, level=level)
    for horizon in (1, 6):
        assert _coverage(model, values, 4500, horizon) == pytest.approx(level, abs=0.04)


def test_intervals_widen_with_the_horizon_and_extrapolate() -> None:
    rng = np.random.default_rng(6)
    values = np.cumsum(rng.normal(0, 1, 3000))
    model = PerceptronForecaster(Hyperparameters(window_size=6)).fit(values[:2400])
    intervals = calibrate(model.forecast_windows, values, 2400, 6, max_steps=10)
    assert len(intervals.lower) == 10
    assert np.all(np.diff(intervals.upper) >= 0) and np.all(np.diff(intervals.lower) <= 0)
    assert intervals.upper[-1] > intervals.upper[0]
    lower, upper = intervals.offsets(40)
    assert len(upper) == 40
    assert upper[39] == pytest.approx(intervals.upper[-1] * 2.0)  # sqrt(40 / 10)


def test_calibration_needs_a_window_before_the_holdout() -> None:
    model = PerceptronForecaster(Hyperparameters(window_size=6)).fit(np.sin(np.arange(100.0)))
    with pytest.raises(ForecastInputError, match="window of 6"):
        calibrate(model.forecast_windows, np.sin(np.arange(100.0)), 3, 6)
    with pytest.raises(ForecastInputError, match="level"):
        calibrate(model.forecast_windows, np.sin(np.arange(100.0)), 50, 6, level=1.5)


def test_horizon_metrics_grow_with_the_step_and_cover_honestly() -> None:
    rng = np.random.default_rng(3)
    values = 50 + np.cumsum(ar(rng, 3000, [0.5], scale=1.0)) * 0.2 + ar(rng, 3000, [0.3], scale=1.0)
    model = PerceptronForecaster(Hyperparameters(window_size=8)).fit(values[:2000])
    model.intervals = calibrate(model.forecast_windows, values, 2000, 8, 0.9)
    steps = horizon_metrics(model, values, 2000)
    assert len(steps["rmse"]) == 48 and steps["count"][0] == 1000 and steps["count"][-1] == 1000 - 47
    assert steps["rmse"][0] == pytest.approx(evaluate(model, values, 2000)["rmse"], rel=1e-9)
    assert steps["rmse"][-1] > 1.5 * steps["rmse"][0] and np.all(steps["mae"] <= steps["rmse"] + 1e-12)
    assert np.all((steps["coverage"] > 0.75) & (steps["coverage"] < 0.99))  # cross-fitted, not 0.9 by construction


def test_horizon_metrics_leave_out_coverage_a_short_holdout_cannot_measure() -> None:
    values = ar(np.random.default_rng(4), 300, [0.5], scale=1.0)
    model = PerceptronForecaster(Hyperparameters(window_size=4)).fit(values[:260])
    assert "coverage" not in horizon_metrics(model, values, 260)  # no intervals
    model.intervals = calibrate(model.forecast_windows, values, 260, 4, 0.9)
    steps = horizon_metrics(model, values, 260)
    assert len(steps["rmse"]) == 21 and np.isfinite(steps["coverage"][0]) and np.isnan(steps["coverage"][-1])
    assert horizon_metrics(model, values, 2) == {}
