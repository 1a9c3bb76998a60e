"""From request points to forecasts: sort, check, take the last window, forecast, put dates on
the answer.

A request is a few dozen points, and numpy's cost per call (a few microseconds, more once the
server's other work has pushed it out of the CPU caches) is larger than the work on them: the
common case (points in order, evenly spaced, one step ahead) runs on the lists msgspec decoded,
with C builtins (`map`, `count`, `min`, `sum`), and numpy takes over for what is rarer and
heavier (sorting, gap repair, several steps ahead). The only per-point Python is reading the
decoded points.
"""

from itertools import islice
from operator import sub

import numpy as np

from core.errors import InvalidInput
from ml import calendar_inputs as cal
from ml import sampling
from ml.forecaster import PerceptronForecaster
from ml.sampling import GAP_RATIO
from serving.schemas import Point

_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def _milliseconds(stamps: list[str | int | float], where: str = "data[{}].timestamp") -> list[float]:
    """Epoch milliseconds of ISO-8601 strings or of numbers (`where` names the i-th in errors).
    Strings already seen are looked up: a client sends mostly the points of its last request
    again, and every sensor on the same clock the same timestamps; the others are parsed by numpy
    in one call, and remembered."""
    if isinstance(stamps[0], str):
        try:
            return list(map(_PARSED.__getitem__, stamps))  # type: ignore[arg-type]
        except KeyError:
            pass
        try:
            text = [s[:-1] if s[-1:] in ("Z", "z") else s for s in stamps]  # type: ignore[index]
            parsed = np.array(text, dtype="datetime64[ms]").view(np.int64).astype(np.float64).tolist()
        except (ValueError, TypeError, IndexError):
            return _one_by_one(stamps, where)
        if len(_PARSED) > _PARSED_KEPT:
            _PARSED.clear()
        _PARSED.update(zip(stamps, parsed))  # type: ignore[arg-type]
        return parsed
    try:
        return list(map(float, stamps))
    except (ValueError, TypeError, OverflowError):
        return _one_by_one(stamps, where)


_PARSED: dict[str, float] = {}
_PARSED_KEPT = 50_000


def _one_by_one(stamps: list[str | int | float], where: str) -> list[float]:
    """The slow path, only to say which timestamp is wrong."""
    out = []
    for i, stamp in enumerate(stamps):
        if isinstance(stamp, str):
            try:
                out.append(float(np.datetime64(stamp.rstrip("Zz") or "x", "ms").astype(np.int64)))
            except ValueError:
                raise InvalidInput(
                    f"{where.format(i)} {stamp[:40]!r} is not an ISO-8601 date-time such as 2024-01-01T00:00:00Z; "
                    "send ISO-8601 strings or epoch milliseconds",
                ) from None
        else:
            try:
                out.append(float(stamp))
            except OverflowError:
                raise InvalidInput(f"{where.format(i)}: {_EPOCH_RANGE}") from None
    return out


def series_from_points(points: list[Point]) -> tuple[list[float], list[float], list[float]]:
    """Epoch milliseconds and values, sorted by time, and the steps between the times; 422 for
    what cannot be a series. The values are finite: msgspec refuses NaN, Infinity and numbers
    out of range. Points sent in order cost one subtraction per point and one `count` or `min`."""
    times = _milliseconds([p.timestamp for p in points])
    values = [p.value for p in points]
    steps = steps_between(times)
    if steps and not (_even(steps) or min(steps) > 0):  # NaN fails the comparison too
        times, values, steps = _sorted(times, values)
    if not -_MAX_MS <= times[0] <= times[-1] <= _MAX_MS:
        raise InvalidInput(_BAD_EPOCH)
    return times, values, steps


def steps_between(times: list[float]) -> list[float]:
    """The differences of consecutive times, in one C loop."""
    return list(map(sub, islice(times, 1, None), times))


def _sorted(times: list[float], values: list[float]) -> tuple[list[float], list[float], list[float]]:
    """Points sent out of order, sorted (stably); 422 for repeated timestamps."""
    stamps = np.array(times)
    if not np.isfinite(stamps).all():
        raise InvalidInput(_BAD_EPOCH)
    order = np.argsort(stamps, kind="stable")
    stamps = stamps[order]
    steps = np.diff(stamps)
    repeated = np.flatnonzero(steps == 0)
    if len(repeated):
        stamp = _iso(stamps[repeated[0]])
        raise InvalidInput(
            f"data: duplicate timestamps ({len(repeated)} repeated, first {stamp}); send one value per timestamp"
        )
    return stamps.tolist(), np.array(values)[order].tolist(), steps.tolist()


_EPOCH_RANGE = "a numeric timestamp must be epoch milliseconds between years 1 and 9999"
_BAD_EPOCH = f"data: {_EPOCH_RANGE}"


def _iso(milliseconds: float) -> str:
    return np.datetime64(int(round(milliseconds)), "ms").astype(str) + "Z"


def _even(steps: list[float]) -> bool:
    """Evenly spaced forward, as sensors send them (one C loop of float comparisons)."""
    return steps[0] > 0 and steps.count(steps[0]) == len(steps)


def _median_step(steps: list[float]) -> float:
    if _even(steps):
        return steps[0]
    ordered = sorted(steps)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def next_timestamps(
    times: list[float], steps: list[float], horizon: int, fallback_step_seconds: float | None
) -> tuple[list[str | None], list[int] | None]:
    """The next `horizon` timestamps, spaced like the data (median step; whole months for
    monthly, quarterly and yearly points on one day of the month), as ISO-8601 UTC and as epoch
    milliseconds (None when the points carry no usable spacing)."""
    if len(times) >= 2:
        step = _median_step(steps)
    elif fallback_step_seconds and np.isfinite(fallback_step_seconds):
        step = fallback_step_seconds * 1000.0
    else:
        return [None] * horizon, None
    if _MONTHLY_LOW <= step <= _MONTHLY_HIGH:
        by_month = _by_calendar_month(times, step, horizon)
        if by_month is not None:
            return by_month
    if horizon == 1:
        future = times[-1] + step
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


_DAY_MS = 86_400_000.0
_MONTHLY_LOW, _MONTHLY_HIGH = cal.MONTH_BANDS[0][0] * _DAY_MS, cal.MONTH_BANDS[-1][1] * _DAY_MS


def _by_calendar_month(
    times: list[float], step: float, horizon: int
) -> tuple[list[str | None], list[int] | None] | None:
    """Monthly, quarterly and yearly points fall on the same day and time of their month, so
    their next timestamps are months later, not multiples of a median step (31 days from 1
    February is 4 March). None when the points are not on one day and time of the month."""
    months = cal.months_per_step(step / _DAY_MS)
    if not months or len(times) < 2:
        return None
    recent = np.array(times[-3:]).astype(np.int64).astype("datetime64[ms]")
    offsets = recent - recent.astype("datetime64[M]").astype("datetime64[ms]")
    if (offsets != offsets[-1]).any():
        return None
    milliseconds = cal.months_later(recent[-1:], months, np.arange(1, horizon + 1))[0].astype(np.int64)
    if milliseconds[-1] > _MAX_MS:
        return [None] * horizon, None
    return [_stamp(int(ms)) for ms in milliseconds], milliseconds.tolist()


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


def forecast(
    model: PerceptronForecaster, values: list[float], horizon: int, times: list[float] | None = None
) -> tuple[list, list, list]:
    """Point forecasts and interval bounds for the `horizon` steps after the last window (`times`:
    their epoch seconds, see `target_times`)."""
    return model.forecast_last(values[-model.window_size :], horizon, times)


def target_times(model_name: str, model: PerceptronForecaster, target_ms: list[int] | None) -> list[float] | None:
    """Epoch seconds of the forecasts, which a model reading the calendar needs; None for the others."""
    if model.calendar is None:
        return None
    if target_ms is None:
        raise InvalidInput(
            f"model {model_name} forecasts by the date (it reads the calendar): send at least two points with "
            "timestamps a step apart, so the date of the forecast is known"
        )
    return [ms / 1000.0 for ms in target_ms]


def batch_targets(model_name: str, model: PerceptronForecaster, stamps: list | None, windows: int) -> np.ndarray | None:
    """Epoch seconds of each window's first forecast from `timestamps` (one for all, or one per
    window) for a model reading the calendar; None for the others, which ignore them."""
    if model.calendar is None:
        return None
    if not stamps:
        raise InvalidInput(
            f"model {model_name} forecasts by the date (it reads the calendar): send `timestamps`, the time of each "
            "window's first forecast (one for all windows, or one per window; `timestamp` in the query of a .npy body)"
        )
    if len(stamps) not in (1, windows):
        raise InvalidInput(f"send one timestamp for all windows or one per window ({windows}), not {len(stamps)}")
    seconds = np.array(_milliseconds(stamps, "timestamps[{}]")) / 1000.0
    if not np.all(np.isfinite(seconds)) or np.any(np.abs(seconds) * 1000.0 > _MAX_MS):
        raise InvalidInput(f"timestamps: {_EPOCH_RANGE}")
    return np.broadcast_to(seconds, (windows,))


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
    model_name: str, model: PerceptronForecaster, times: list[float], values: list[float], steps: list[float]
) -> tuple[list[float], list[float], list[float]]:
    """Points with gaps get what the model's training got (its `gaps` policy): `fail` is a 422
    naming the gaps inside the window, `interpolate` fills the short ones, `drop_before` keeps
    what follows the last long one. Models trained before gap policies existed read the points
    as they come, as they always did. One `max` over the last window when there is no gap."""
    meta = model.metadata or {}
    policy, step = meta.get("gaps"), meta.get("step_seconds")
    if policy is None or not step or len(times) < 2:
        return times, values, steps
    step_ms = float(step) * 1000.0
    if max(steps[-model.window_size :]) < GAP_RATIO * step_ms:
        return times, values, steps
    window_start = times[-(model.window_size + 1) :][0]
    max_gap = int(meta.get("max_gap_points") or 0)
    seconds = np.array(times) / 1000.0
    found = sampling.inspect(seconds, float(step))
    repaired = sampling.repair(seconds, np.array(values), policy, max_gap, found)
    recent = [gap for gap in repaired.long_gaps if gap.before * 1000.0 >= window_start]
    if recent:
        described = sampling.describe_gaps(found, recent, lambda t: _iso(t * 1000.0))
        hint = "" if policy == "fail" else f" (longer than max_gap_points={max_gap})"
        raise InvalidInput(
            f"data: {described}{hint}; model {model_name} was trained with gaps={policy}: send the missing points"
        )
    milliseconds = repaired.times * 1000.0
    return milliseconds.tolist(), repaired.values.tolist(), np.diff(milliseconds).tolist()
