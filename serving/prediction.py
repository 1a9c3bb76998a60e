"""From request points to forecasts: sort, check, take the last window, forecast, put dates on
the answer. numpy does the work; the only per-point Python is reading the decoded points."""

import numpy as np

from core.errors import InvalidInput
from ml import sampling
from ml.forecaster import PerceptronForecaster
from ml.sampling import GAP_RATIO
from serving.schemas import Point

_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def _milliseconds(stamps: list[str | int | float]) -> np.ndarray:
    """Epoch milliseconds of ISO-8601 strings (parsed by numpy in one call) or of numbers."""
    first = stamps[0]
    if isinstance(first, str):
        try:
            text = [s[:-1] if s[-1:] in ("Z", "z") else s for s in stamps]
            return np.array(text, dtype="datetime64[ms]").astype(np.int64).astype(np.float64)
        except (ValueError, TypeError, IndexError):
            return _one_by_one(stamps)
    try:
        return np.array(stamps, dtype=np.float64)
    except (ValueError, TypeError):
        return _one_by_one(stamps)


def _one_by_one(stamps: list[str | int | float]) -> np.ndarray:
    """The slow path, only to say which timestamp is wrong."""
    out = np.empty(len(stamps))
    for i, stamp in enumerate(stamps):
        if isinstance(stamp, str):
            try:
                out[i] = np.datetime64(stamp.rstrip("Zz") or "x", "ms").astype(np.int64)
            except ValueError:
                raise InvalidInput(
                    f"data[{i}].timestamp {stamp[:40]!r} is not an ISO-8601 date-time such as 2024-01-01T00:00:00Z; "
                    "send ISO-8601 strings or epoch milliseconds",
                ) from None
        else:
            out[i] = float(stamp)
    return out


def series_from_points(points: list[Point]) -> tuple[np.ndarray, np.ndarray]:
    """Epoch milliseconds and values, sorted by time; 422 for what cannot be a series."""
    times = _milliseconds([p.timestamp for p in points])
    values = np.array([p.value for p in points], dtype=np.float64)
    if not np.isfinite(values).all():
        raise InvalidInput(f"data: values must be finite numbers; point {int(np.argmin(np.isfinite(values)))} is not")
    if not np.isfinite(times).all() or times.min() < -_MAX_MS or times.max() > _MAX_MS:
        raise InvalidInput("data: a numeric timestamp must be epoch milliseconds between years 1 and 9999")
    if (np.diff(times) <= 0).any():
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
        repeated = np.flatnonzero(np.diff(times) == 0)
        if len(repeated):
            stamp = _iso(times[repeated[0]])
            raise InvalidInput(
                f"data: duplicate timestamps ({len(repeated)} repeated, first {stamp}); send one value per timestamp"
            )
    return times, values


def _iso(milliseconds: float) -> str:
    return np.datetime64(int(round(milliseconds)), "ms").astype(str) + "Z"


def _median_step(times: np.ndarray) -> float:
    steps = np.sort(np.diff(times))
    middle = len(steps) // 2
    return float(steps[middle]) if len(steps) % 2 else float(steps[middle - 1] + steps[middle]) / 2.0


def next_timestamps(
    times: np.ndarray, horizon: int, fallback_step_seconds: float | None
) -> tuple[list[str | None], list[int] | None]:
    """The next `horizon` timestamps, spaced like the data (median step), as ISO-8601 UTC and as
    epoch milliseconds (None when the points carry no usable spacing)."""
    if len(times) >= 2:
        step = _median_step(times)
    elif fallback_step_seconds and np.isfinite(fallback_step_seconds):
        step = fallback_step_seconds * 1000.0
    else:
        return [None] * horizon, None
    future = times[-1] + step * np.arange(1, horizon + 1)
    if future[-1] > _MAX_MS:
        return [None] * horizon, None
    milliseconds = np.round(future).astype("int64")
    unit = "s" if not (milliseconds % 1000).any() else "ms"
    stamps = np.datetime_as_string(milliseconds.astype("datetime64[ms]"), unit=unit).tolist()
    return [s + "Z" for s in stamps], milliseconds.tolist()


def forecast(
    model: PerceptronForecaster, values: np.ndarray, horizon: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point forecasts and interval bounds for the `horizon` steps after the last window."""
    window = values[-model.window_size :]
    predicted = model.forecast_windows(window[None, :], horizon)
    lower, upper = model.bounds(predicted)
    return predicted[0], lower[0], upper[0]


def check_window(model_name: str, model: PerceptronForecaster, available: int, window_size: int | None) -> None:
    w = model.window_size
    if window_size is not None and window_size != w:
        raise InvalidInput(
            f"window_size={window_size} does not match model {model_name}, trained with window_size={w}: "
            f"send window_size {w} (or leave it out)",
        )
    if available < w:
        raise InvalidInput(
            f"data has {available} points but model {model_name} needs window_size={w}: send at least {w} points"
        )


def mind_the_gaps(model_name: str, model: PerceptronForecaster, times: np.ndarray, values: np.ndarray) -> tuple:
    """Points with gaps get what the model's training got (its `gaps` policy): `fail` is a 422
    naming the gaps inside the window, `interpolate` fills the short ones, `drop_before` keeps
    what follows the last long one. Models trained before gap policies existed read the points
    as they come, as they always did. One comparison on the last window when there is no gap."""
    meta = model.metadata or {}
    policy, step = meta.get("gaps"), meta.get("step_seconds")
    if policy is None or not step or len(times) < 2:
        return times, values
    step_ms = float(step) * 1000.0
    window = times[-(model.window_size + 1) :]
    if float(np.max(np.diff(window))) < GAP_RATIO * step_ms:
        return times, values
    max_gap = int(meta.get("max_gap_points") or 0)
    seconds = times / 1000.0
    found = sampling.inspect(seconds, float(step))
    repaired = sampling.repair(seconds, values, policy, max_gap, found)
    recent = [gap for gap in repaired.long_gaps if gap.before * 1000.0 >= window[0]]
    if recent:
        described = sampling.describe_gaps(found, recent, lambda t: _iso(t * 1000.0))
        hint = "" if policy == "fail" else f" (longer than max_gap_points={max_gap})"
        raise InvalidInput(
            f"data: {described}{hint}; model {model_name} was trained with gaps={policy}: send the missing points"
        )
    return repaired.times * 1000.0, repaired.values
