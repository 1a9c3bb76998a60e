"""Holdout evaluation: the model against the naive and seasonal-naive baselines on the same points."""

import warnings

import numpy as np

from ml import baselines
from ml.errors import ForecastInputError
from ml.forecaster import PerceptronForecaster
from ml.intervals import MAX_CALIBRATED_STEPS, error_quantiles, step_errors
from ml.metrics import mase, naive_scale, point_metrics
from ml.windows import as_series, windows

MIN_CROSS_FITTED = 10


def holdout_predictions(
    model: PerceptronForecaster, values: np.ndarray, start: int, times: np.ndarray | None = None
) -> np.ndarray:
    """One-step forecasts of values[start:], each from the `window_size` actual values before it
    (`times`: epoch seconds of `values`, for a model that reads the calendar)."""
    w = model.window_size
    if start < w:
        raise ForecastInputError(
            f"the holdout starts at point {start}, but a model with window_size={w} needs {w} points before it"
        )
    inputs, _ = windows(values, w)
    return model.predict(inputs[start - w :], None if times is None else times[start:])


def evaluate(
    model: PerceptronForecaster, values: object, start: int, season_length: int = 1, times: np.ndarray | None = None
) -> dict[str, float]:
    """Metrics on the holdout values[start:], named as they are logged: `mae`, `mse`, `rmse`,
    `mase`, then `naive_*` and, when the training part covers a season, `seasonal_naive_*`."""
    series = as_series(values)
    if not 0 < start < len(series):
        raise ForecastInputError(f"holdout start must be inside the series (1..{len(series) - 1}), got {start}")
    actual = series[start:]
    scale = naive_scale(series[:start])
    result = scored("", actual, holdout_predictions(model, series, start, times), scale)
    result.update(scored("naive_", actual, baselines.naive(series, start), scale))
    if 1 < season_length <= start:
        predicted = baselines.seasonal_naive(series, start, season_length)
        result.update(scored("seasonal_naive_", actual, predicted, scale))
    return result


def scored(prefix: str, actual: np.ndarray, predicted: np.ndarray, scale: float) -> dict[str, float]:
    """`mae`, `mse`, `rmse` and `mase` (against `scale`), each name prefixed."""
    metrics = point_metrics(actual, predicted)
    metrics["mase"] = mase(metrics["mae"], scale)
    return {prefix + name: value for name, value in metrics.items()}


def horizon_metrics(
    model: PerceptronForecaster,
    values: object,
    start: int,
    max_steps: int = MAX_CALIBRATED_STEPS,
    times: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """How the error grows with the horizon: per step 1..H, `mae`, `rmse` and `count` of the
    recursive forecasts from every origin of the holdout values[start:], and `coverage` of
    intervals at the model's level. The model's own intervals were calibrated on these very
    errors, so their coverage here would be the level by construction; each half of the
    holdout's origins is instead covered by offsets calibrated on the other half (cross-fitted),
    an honest estimate. Empty when the holdout has no origin after a window."""
    series = as_series(values)
    w = model.window_size
    if start < w or start >= len(series):
        return {}
    errors = step_errors(model.forecast_windows, series, start, w, max_steps, times)
    with np.errstate(over="ignore"):  # as in ml.metrics: an overflowing square is an infinite score
        squared = np.nanmean(errors * errors, axis=0)
    result = {
        "mae": np.nanmean(np.abs(errors), axis=0),
        "rmse": np.sqrt(squared),
        "count": np.sum(~np.isnan(errors), axis=0).astype(float),
    }
    half = len(errors) // 2
    if model.intervals is not None and half >= 1:
        halves = ((slice(0, half), slice(half, None)), (slice(half, None), slice(0, half)))
        first = np.sum(~np.isnan(errors[:half]), axis=0)
        usable = np.minimum(first, result["count"] - first) >= MIN_CROSS_FITTED
        inside = np.full(errors.shape, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps of a half: not usable anyway
            for covered, calibration in halves:
                lower, upper = error_quantiles(errors[calibration], model.intervals.level)
                part = errors[covered]
                inside[covered] = np.where(np.isnan(part), np.nan, (part >= lower) & (part <= upper))
            result["coverage"] = np.where(usable, np.nanmean(inside, axis=0), np.nan)
    return result
