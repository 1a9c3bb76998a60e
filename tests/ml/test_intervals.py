import numpy as np
import pytest

from ml import Hyperparameters, PerceptronForecaster, calibrate
from ml.errors import ForecastInputError
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
