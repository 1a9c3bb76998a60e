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
    """Epoch milliseconds of ISO-8601 strings or of numbers. Strings already seen are looked up:
    a client sends mostly the points of its last request again, and every sensor on the same
    clock the same timestamps; the others are parsed by numpy in one call, and remembered."""
    first = stamps[0]
    if isinstance(first, str):
        found = [_PARSED.get(stamp) for stamp in stamps]  # type: ignore[call-overload]
        if None not in found:
            return np.array(found, dtype=np.float64)
        try:
            text = [s[:-1] if s[-1:] in ("Z", "z") else s for s in stamps]  # type: ignore[index]
            parsed = np.array(text, dtype="datetime64[ms]").view(np.int64).astype(np.float64)
        except (ValueError, TypeError, IndexError):
            return _one_by_one(stamps)
        if len(_PARSED) > _PARSED_KEPT:
            _PARSED.clear()
        _PARSED.update(zip(stamps, parsed.tolist()))  # type: ignore[arg-type]
        return parsed
    try:
        return np.array(stamps, dtype=np.float64)
    except (ValueError, TypeError):
        return _one_by_one(stamps)


_PARSED: dict[str, float] = {}
_PARSED_KEPT = 50_000


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


def series_from_points(points: list[Point]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epoch milliseconds and values, sorted by time, and the steps between the times; 422 for
    what cannot be a series. Points sent in order cost one subtraction and one comparison."""
    times = _milliseconds([p.timestamp for p in points])
    values = np.array([p.value for p in points], dtype=np.float64)
    if not np.isfinite(values).all():
        raise InvalidInput(f"data: values must be finite numbers; point {int(np.argmin(np.isfinite(values)))} is not")
    steps = times[1:] - times[:-1]
    if not (len(steps) == 0 or steps.min() > 0) or not np.isfinite(times[0]):  # NaN fails the comparison
        if not np.isfinite(times).all():
            raise InvalidInput(_BAD_EPOCH)
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
        steps = times[1:] - times[:-1]
        repeated = np.flatnonzero(steps == 0)
        if len(repeated):
            stamp = _iso(times[repeated[0]])
            raise InvalidInput(
                f"data: duplicate timestamps ({len(repeated)} repeated, first {stamp}); send one value per timestamp"
            )
    if times[0] < -_MAX_MS or times[-1] > _MAX_MS:
        raise InvalidInput(_BAD_EPOCH)
    return times, values, steps


_BAD_EPOCH = "data: a numeric timestamp must be epoch milliseconds between years 1 and 9999"


def _iso(milliseconds: float) -> str:
    return np.datetime64(int(round(milliseconds)), "ms").astype(str) + "Z"


def _median_step(steps: np.ndarray) -> float:
    lowest, highest = steps.min(), steps.max()
    if lowest == highest:  # evenly spaced, as sensors send them
        return float(lowest)
    ordered = np.sort(steps)
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else float(ordered[middle - 1] + ordered[middle]) / 2.0


def next_timestamps(
    times: np.ndarray, steps: np.ndarray, horizon: int, fallback_step_seconds: float | None
) -> tuple[list[str | None], list[int] | None]:
    """The next `horizon` timestamps, spaced like the data (median step), as ISO-8601 UTC and as
    epoch milliseconds (None when the points carry no usable spacing)."""
    if len(times) >= 2:
        step = _median_step(steps)
    elif fallback_step_seconds and np.isfinite(fallback_step_seconds):
        step = fallback_step_seconds * 1000.0
    else:
        return [None] * horizon, None
    if horizon == 1:
        future = float(times[-1]) + step
        if future > _MAX_MS:
            return [None], None
        milliseconds = round(future)
        return [_stamp(milliseconds)], [milliseconds]
    future = times[-1] + step * np.arange(1, horizon + 1)
    if future[-1] > _MAX_MS:
        return [None] * horizon, None
    milliseconds = np.round(future).astype("int64")
    unit = "s" if not (milliseconds % 1000).any() else "ms"
    stamps = np.datetime_as_string(milliseconds.astype("datetime64[ms]"), unit=unit).tolist()
    return [s + "Z" for s in stamps], milliseconds.tolist()


_STAMPS: dict[int, str] = {}
_STAMPS_KEPT = 4096


def _stamp(milliseconds: int) -> str:
    """One timestamp as ISO-8601, remembered: every sensor sampled on the same clock asks for the
    same next timestamp, so most requests format none."""
    text = _STAMPS.get(milliseconds)
    if text is None:
        if len(_STAMPS) >= _STAMPS_KEPT:
            _STAMPS.clear()
        unit = "ms" if milliseconds % 1000 else "s"
        text = str(np.datetime_as_string(np.datetime64(milliseconds, "ms"), unit=unit)) + "Z"
        _STAMPS[milliseconds] = text
    return text


def forecast(model: PerceptronForecaster, values: np.ndarray, horizon: int) -> tuple[list, list, list]:
    """Point forecasts and interval bounds for the `horizon` steps after the last window."""
    return model.forecast_last(values[-model.window_size :], horizon)


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


def mind_the_gaps(
    model_name: str, model: PerceptronForecaster, times: np.ndarray, values: np.ndarray, steps: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points with gaps get what the model's training got (its `gaps` policy): `fail` is a 422
    naming the gaps inside the window, `interpolate` fills the short ones, `drop_before` keeps
    what follows the last long one. Models trained before gap policies existed read the points
    as they come, as they always did. One comparison on the last window when there is no gap."""
    meta = model.metadata or {}
    policy, step = meta.get("gaps"), meta.get("step_seconds")
    if policy is None or not step or len(times) < 2:
        return times, values, steps
    step_ms = float(step) * 1000.0
    if float(steps[-model.window_size :].max()) < GAP_RATIO * step_ms:
        return times, values, steps
    window_start = times[-(model.window_size + 1) :][0]
    max_gap = int(meta.get("max_gap_points") or 0)
    seconds = times / 1000.0
    found = sampling.inspect(seconds, float(step))
    repaired = sampling.repair(seconds, values, policy, max_gap, found)
    recent = [gap for gap in repaired.long_gaps if gap.before * 1000.0 >= window_start]
    if recent:
        described = sampling.describe_gaps(found, recent, lambda t: _iso(t * 1000.0))
        hint = "" if policy == "fail" else f" (longer than max_gap_points={max_gap})"
        raise InvalidInput(
            f"data: {described}{hint}; model {model_name} was trained with gaps={policy}: send the missing points"
        )
    times = repaired.times * 1000.0
    return times, repaired.values, times[1:] - times[:-1]
