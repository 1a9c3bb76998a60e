"""From request points to forecasts: sort, check, take the last window, forecast, put dates on
the answer. numpy does the work; the only per-point Python is reading the decoded points."""

from datetime import UTC, datetime

import numpy as np

from ml.forecaster import PerceptronForecaster
from serving.errors import ApiError
from serving.schemas import Point

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def _ms(value: datetime | int | float) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return (value - _EPOCH).total_seconds() * 1000.0
    return float(value)


def series_from_points(points: list[Point]) -> tuple[np.ndarray, np.ndarray]:
    """Epoch milliseconds and values, sorted by time; 422 for what cannot be a series."""
    times = np.fromiter((_ms(p.timestamp) for p in points), dtype=np.float64, count=len(points))
    values = np.fromiter((p.value for p in points), dtype=np.float64, count=len(points))
    if not np.all(np.isfinite(values)):
        raise ApiError(422, f"data: values must be finite numbers; point {int(np.argmin(np.isfinite(values)))} is not")
    if not np.all(np.isfinite(times)) or times.min() < -_MAX_MS or times.max() > _MAX_MS:
        raise ApiError(422, "data: a numeric timestamp must be epoch milliseconds between years 1 and 9999")
    if np.any(np.diff(times) <= 0):
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
        repeated = np.flatnonzero(np.diff(times) == 0)
        if len(repeated):
            stamp = _iso(times[repeated[0]])
            raise ApiError(422, f"data: duplicate timestamps ({len(repeated)} repeated, first {stamp}); send one value per timestamp")
    return times, values


def _iso(milliseconds: float) -> str:
    return np.datetime64(int(round(milliseconds)), "ms").astype(str) + "Z"


def next_timestamps(times: np.ndarray, horizon: int, fallback_step_seconds: float | None) -> list[str | None]:
    """The next `horizon` timestamps, spaced like the data (median step), as ISO-8601 UTC."""
    if len(times) >= 2:
        step = float(np.median(np.diff(times)))
    elif fallback_step_seconds and np.isfinite(fallback_step_seconds):
        step = fallback_step_seconds * 1000.0
    else:
        return [None] * horizon
    future = times[-1] + step * np.arange(1, horizon + 1)
    if future[-1] > _MAX_MS:
        return [None] * horizon
    milliseconds = np.round(future).astype("int64")
    unit = "s" if not np.any(milliseconds % 1000) else "ms"
    stamps = milliseconds.astype("datetime64[ms]").astype(f"datetime64[{unit}]").astype(str)
    return [s + "Z" for s in stamps.tolist()]


def forecast(model: PerceptronForecaster, values: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point forecasts and interval bounds for the `horizon` steps after the last window."""
    window = values[-model.window_size :]
    predicted = model.forecast_windows(window[None, :], horizon)
    lower, upper = model.bounds(predicted)
    return predicted[0], lower[0], upper[0]


def check_window(model_name: str, model: PerceptronForecaster, available: int, window_size: int | None) -> None:
    w = model.window_size
    if window_size is not None and window_size != w:
        raise ApiError(
            422,
            f"window_size={window_size} does not match model {model_name}, trained with window_size={w}: "
            f"send window_size {w} (or leave it out)",
        )
    if available < w:
        raise ApiError(
            422, f"data has {available} points but model {model_name} needs window_size={w}: send at least {w} points"
        )
