"""Prediction intervals from holdout residuals.

For every forecast step h the interval is the empirical (α/2, 1-α/2) quantile pair of the
errors the model made h steps ahead on the holdout, which it never trained on. No
distribution is assumed; the bounds widen with the horizon as the errors do, and beyond the
last calibrated step they grow like sqrt(h), as a random walk's would.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ml import calendar_inputs as cal
from ml.errors import ForecastInputError

DEFAULT_LEVEL = 0.9
MAX_CALIBRATED_STEPS = 48
MIN_RESIDUALS_PER_STEP = 20


@dataclass(frozen=True)
class PredictionIntervals:
    """Per-step offsets to add to a point forecast: `lower[h-1] <= 0 <= upper[h-1]` mostly."""

    level: float
    lower: np.ndarray
    upper: np.ndarray

    @cached_property
    def first(self) -> tuple[float, float]:
        """The offsets of step 1 as floats: what a one-step request adds."""
        return float(self.lower[0]), float(self.upper[0])

    def offsets(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper offsets for steps 1..horizon."""
        calibrated = len(self.lower)
        if horizon <= calibrated:
            return self.lower[:horizon], self.upper[:horizon]
        steps = np.arange(calibrated + 1, horizon + 1)
        growth = np.sqrt(steps / calibrated)
        return (
            np.concatenate([self.lower, self.lower[-1] * growth]),
            np.concatenate([self.upper, self.upper[-1] * growth]),
        )


def calibrate(
    forecast_windows: Callable[..., np.ndarray],
    values: np.ndarray,
    start: int,
    window_size: int,
    level: float = DEFAULT_LEVEL,
    max_steps: int = MAX_CALIBRATED_STEPS,
    times: np.ndarray | None = None,
) -> PredictionIntervals:
    """Quantiles of the h-step errors of `forecast_windows` over every origin in values[start:].

    `forecast_windows(windows, horizon)` is the model's vectorised recursive forecast; every
    origin in the holdout gets one forecast of `steps` values, and the errors form a matrix
    whose column h holds all the h-step-ahead errors (NaN where the holdout ends)."""
    if not 0.0 < level < 1.0:
        raise ForecastInputError(f"interval level must be between 0 and 1, got {level!r}")
    holdout = len(values) - start
    if start < window_size or holdout < 1:
        raise ForecastInputError(
            f"intervals need a window of {window_size} values before a non-empty holdout; "
            f"holdout starts at {start} of {len(values)}"
        )
    errors = step_errors(forecast_windows, values, start, window_size, max_steps, times)
    lower, upper = error_quantiles(errors, level)
    return PredictionIntervals(level=float(level), lower=lower, upper=upper)


def step_errors(
    forecast_windows: Callable[..., np.ndarray],
    values: np.ndarray,
    start: int,
    window_size: int,
    max_steps: int = MAX_CALIBRATED_STEPS,
    times: np.ndarray | None = None,
) -> np.ndarray:
    """Errors (actual - forecast) of the recursive forecasts from every origin in values[start:]:
    one row per origin, column h-1 for h steps ahead, NaN past the end of the series. Steps stop
    where fewer than MIN_RESIDUALS_PER_STEP origins reach. With `times` (epoch seconds of
    `values`), `forecast_windows` also gets the time of each forecast, for a model reading the calendar."""
    holdout = len(values) - start
    steps = int(max(1, min(max_steps, holdout - MIN_RESIDUALS_PER_STEP + 1)))
    origins = np.arange(start, len(values))
    inputs = sliding_window_view(values, window_size)[origins - window_size]
    if times is None:
        predicted = forecast_windows(inputs, steps)
    else:
        predicted = forecast_windows(inputs, steps, cal.known_ahead(times, origins, steps))
    targets = origins[:, None] + np.arange(steps)[None, :]
    valid = targets < len(values)
    actual = np.where(valid, values[np.minimum(targets, len(values) - 1)], np.nan)
    return actual - predicted


def error_quantiles(errors: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-step lower and upper offsets holding `level` of the errors (columns), widening with the
    horizon: a step is never more certain than the one before it."""
    alpha = 1.0 - level
    lower = np.nanquantile(errors, alpha / 2.0, axis=0)
    upper = np.nanquantile(errors, 1.0 - alpha / 2.0, axis=0)
    return np.minimum.accumulate(np.minimum(lower, 0.0)), np.maximum.accumulate(np.maximum(upper, 0.0))
