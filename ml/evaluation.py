"""Holdout evaluation: the model against the naive and seasonal-naive baselines on the same points."""

import numpy as np

from ml import baselines
from ml.errors import ForecastInputError
from ml.forecaster import PerceptronForecaster
from ml.metrics import mase, naive_scale, point_metrics
from ml.windows import as_series, windows


def holdout_predictions(model: PerceptronForecaster, values: np.ndarray, start: int) -> np.ndarray:
    """One-step forecasts of values[start:], each from the `window_size` actual values before it."""
    w = model.window_size
    if start < w:
        raise ForecastInputError(
            f"the holdout starts at point {start}, but a model with window_size={w} needs {w} points before it"
        )
    inputs, _ = windows(values, w)
    return model.predict(inputs[start - w :])


def evaluate(model: PerceptronForecaster, values: object, start: int, season_length: int = 1) -> dict[str, float]:
    """Metrics on the holdout values[start:], named as they are logged: `mae`, `mse`, `rmse`,
    `mase`, then `naive_*` and, when the training part covers a season, `seasonal_naive_*`."""
    series = as_series(values)
    if not 0 < start < len(series):
        raise ForecastInputError(f"holdout start must be inside the series (1..{len(series) - 1}), got {start}")
    actual = series[start:]
    scale = naive_scale(series[:start])
    result = scored("", actual, holdout_predictions(model, series, start), scale)
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
