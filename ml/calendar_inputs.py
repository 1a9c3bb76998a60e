"""Calendar inputs: where in its day, week or year a forecast falls, as Fourier terms.

A sensor's daily or yearly cycle is mostly the same every cycle. Lagged values (and seasonal
lags or differences) can only rebuild that shape from noisy readings of past cycles; a few sines
and cosines of the target's time estimate it from every cycle of the training series at once.
sin(2πk·t/P) and cos(2πk·t/P) for k = 1..K are inputs like the window's values, so a unit that
reads them is still one linear unit trained by the same descent: its forecast is the window's
affine form plus `Calendar.effect(t)`, additive in raw units whatever the differencing (the
differenced unit forecasts d_t, and y_t = d_t + a function of past values).

The phase comes from the target's timestamp (epoch seconds), not from its position, so a model
forecasts the right phase whatever window a caller sends, and calendar months of 28 to 31 days
keep the phase of the year.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ml.errors import ForecastInputError

DAY = 86_400.0
WEEK = 7 * DAY
YEAR = 365.2425 * DAY
MAX_HARMONICS = 3
CYCLES_TO_LEARN = 2.0
_NATURAL = (DAY, WEEK, YEAR)
MONTH_BANDS = ((28.0, 31.0, 1), (89.0, 92.0, 3), (365.0, 366.0, 12))  # days apart, calendar months
MONTH_STEPS = tuple(months for _, _, months in MONTH_BANDS)
_MONTH_DAYS = 28


def features(times: np.ndarray, period: float, harmonics: int) -> np.ndarray:
    """Shape (..., 2K): sin and cos of 2πk·t/P for k = 1..K, in that order, per time."""
    phase = (2.0 * np.pi / period) * np.mod(np.asarray(times, dtype=np.float64), period)
    k = np.arange(1, harmonics + 1)
    angles = phase[..., None] * k
    out = np.empty((*np.shape(phase), 2 * harmonics))
    out[..., 0::2] = np.sin(angles)
    out[..., 1::2] = np.cos(angles)
    return out


def max_harmonics(period: float, step_seconds: float) -> int:
    """Harmonics a cycle sampled every `step_seconds` can carry (below Nyquist), at most MAX_HARMONICS."""
    if not step_seconds > 0:
        return 0
    per_cycle = period / step_seconds
    return int(max(0, min(MAX_HARMONICS, (int(round(per_cycle)) - 1) // 2)))


def natural_periods(step_seconds: float, span_seconds: float) -> list[float]:
    """The day, week and year, where a cycle holds at least four samples and the series at
    least CYCLES_TO_LEARN cycles; shortest first."""
    if not (np.isfinite(step_seconds) and step_seconds > 0):
        return []
    return [
        period
        for period in _NATURAL
        if max_harmonics(period, step_seconds) >= 1 and span_seconds >= CYCLES_TO_LEARN * period
    ]


def check(period: float, harmonics: int) -> None:
    if isinstance(harmonics, bool) or not isinstance(harmonics, (int, np.integer)) or harmonics < 0:
        raise ForecastInputError(f"calendar_harmonics must be an integer >= 0, got {harmonics!r}")
    if isinstance(period, bool) or not isinstance(period, (int, float)) or not np.isfinite(period) or period < 0:
        raise ForecastInputError(f"calendar_period must be a number of seconds >= 0, got {period!r}")
    if (harmonics > 0) != (period > 0):
        raise ForecastInputError(
            f"calendar_period ({period!r}) and calendar_harmonics ({harmonics!r}) must be both 0 or both positive"
        )


def period_name(period: float) -> str:
    for name, natural in (("day", DAY), ("week", WEEK), ("year", YEAR)):
        if abs(period - natural) < 1.0:
            return name
    return f"{period:g}s"


@dataclass(frozen=True)
class Calendar:
    """The calendar part of a forecast: terms k of periods P (seconds) with their sine and
    cosine coefficients in the series' raw units, and how recursive forecasts advance the time:
    by `months` calendar months when the training series was monthly, quarterly or yearly on
    one day of the month (see `months_apart`), else by `step` seconds."""

    periods: np.ndarray
    orders: np.ndarray
    sin: np.ndarray
    cos: np.ndarray
    step: float
    months: int = 0

    @classmethod
    def of(cls, period: float, coefficients: np.ndarray, step: float, months: int = 0) -> "Calendar":
        """From coefficients ordered as `features` makes its columns."""
        harmonics = len(coefficients) // 2
        return cls(
            np.full(harmonics, float(period)),
            np.arange(1, harmonics + 1),
            np.asarray(coefficients[0::2], dtype=np.float64),
            np.asarray(coefficients[1::2], dtype=np.float64),
            float(step),
            int(months),
        )

    def effect(self, times: object) -> np.ndarray:
        """What the calendar adds to the forecasts of targets at `times` (epoch seconds, any shape)."""
        t = np.asarray(times, dtype=np.float64)
        angles = (2.0 * np.pi) * (np.mod(t[..., None], self.periods) / self.periods) * self.orders
        return np.sin(angles) @ self.sin + np.cos(angles) @ self.cos

    def targets(self, times: object, count: int, horizon: int) -> np.ndarray:
        """Epoch seconds of each of `horizon` recursive steps for `count` windows, shape (count,
        horizon): given as such (a caller that knows the dates), or from each window's first
        target (or one for all) advancing by the calendar's months or step."""
        t = np.asarray(times, dtype=np.float64) if times is not None else None
        if t is not None and t.ndim == 2:
            if t.shape != (count, horizon) or not np.all(np.isfinite(t)):
                raise ForecastInputError(
                    f"the target timestamps must be {count} x {horizon} finite epoch seconds "
                    f"(one per window and step), got shape {t.shape}"
                )
            return t
        first = require_times(times, count, "target")
        by_step = first[:, None] + self.step * np.arange(horizon)
        if not self.months or horizon == 1:
            return by_step
        stamps = first.astype(np.int64).astype("datetime64[s]")
        later = months_later(stamps, self.months, np.arange(horizon)).astype(np.int64).astype(np.float64)
        on_a_month_day = (stamps - stamps.astype("datetime64[M]") < np.timedelta64(_MONTH_DAYS, "D"))[:, None]
        return np.where(on_a_month_day, later, by_step)

    def to_dict(self) -> dict:
        return {
            "step_seconds": self.step,
            "step_months": self.months,
            "terms": [
                {"period_seconds": float(p), "harmonic": int(k), "sin": float(a), "cos": float(b)}
                for p, k, a, b in zip(self.periods, self.orders, self.sin, self.cos, strict=True)
            ],
        }

    @classmethod
    def from_dict(cls, document: dict) -> "Calendar":
        """Raises ValueError, KeyError or TypeError on a malformed document (the caller words it)."""
        terms = document["terms"]
        if not isinstance(terms, list) or not terms:
            raise ValueError("calendar.terms must be a non-empty list")
        rows = np.array([[t["period_seconds"], t["harmonic"], t["sin"], t["cos"]] for t in terms], dtype=np.float64)
        step = float(document["step_seconds"])
        months = document.get("step_months", 0)
        if isinstance(months, bool) or not isinstance(months, int) or months not in MONTH_STEPS + (0,):
            raise ValueError(f"calendar.step_months must be one of 0, {', '.join(map(str, MONTH_STEPS))}")
        if not np.all(np.isfinite(rows)) or not np.isfinite(step) or step <= 0 or np.any(rows[:, 0] <= 0):
            raise ValueError("calendar periods and step must be positive and every coefficient finite")
        if np.any(rows[:, 1] < 1) or np.any(rows[:, 1] != np.round(rows[:, 1])):
            raise ValueError("calendar harmonics must be whole numbers >= 1")
        return cls(rows[:, 0], rows[:, 1].astype(int), rows[:, 2], rows[:, 3], step, months)


def combine(calendars: Sequence[Calendar | None], shares: Sequence[float]) -> Calendar | None:
    """The calendar of a weighted average of units: every member's terms, scaled by its share."""
    present = [(c, s) for c, s in zip(calendars, shares, strict=True) if c is not None]
    if not present:
        return None
    merged: dict[tuple[float, int], np.ndarray] = {}
    for calendar, share in present:
        for p, k, a, b in zip(calendar.periods, calendar.orders, calendar.sin, calendar.cos, strict=True):
            merged.setdefault((float(p), int(k)), np.zeros(2))[:] += share * np.array([a, b])
    keys = sorted(merged)
    coefficients = np.array([merged[key] for key in keys])
    return Calendar(
        np.array([p for p, _ in keys]),
        np.array([k for _, k in keys]),
        coefficients[:, 0],
        coefficients[:, 1],
        present[0][0].step,
        present[0][0].months,
    )


def months_per_step(days: float) -> int:
    """The calendar months a step of `days` may be (1, 3 or 12), or 0 for none."""
    return next((months for low, high, months in MONTH_BANDS if low <= days <= high), 0)


def months_later(stamps: np.ndarray, months: int, steps: np.ndarray) -> np.ndarray:
    """Each datetime64 of `stamps` moved by `months` x each of `steps` calendar months, at the
    same day and time of its month: shape (len(stamps), len(steps)), in the stamps' unit."""
    starts = stamps.astype("datetime64[M]")
    offsets = stamps - starts.astype(stamps.dtype)
    return (starts[:, None] + months * steps).astype(stamps.dtype) + offsets[:, None]


def months_apart(times: np.ndarray) -> int:
    """1, 3 or 12 when `times` (epoch seconds) fall on one day (up to the 28th) and time of
    their month and that many calendar months apart: monthly, quarterly and yearly series, whose
    next dates are months later, not a mean step (31 days from 1 February is 4 March). 0 otherwise."""
    t = np.asarray(times, dtype=np.float64)
    if len(t) < 2:
        return 0
    if not months_per_step(float(t[-1] - t[0]) / (len(t) - 1) / DAY):
        return 0
    return _months_apart(t.tobytes())


@functools.lru_cache(maxsize=32)
def _months_apart(packed: bytes) -> int:
    """`months_apart` of epoch seconds packed as float64: every candidate of a search asks it
    of the same few training series, and the calendar arithmetic is the slow part."""
    t = np.frombuffer(packed)
    if not np.all(t == np.round(t)):
        return 0
    stamps = t.astype(np.int64).astype("datetime64[s]")
    starts = stamps.astype("datetime64[M]")
    offsets = stamps - starts.astype("datetime64[s]")
    if np.any(offsets != offsets[0]) or offsets[0] >= np.timedelta64(_MONTH_DAYS, "D"):
        return 0
    apart = np.diff(starts.astype(np.int64))
    months = int(apart[0])
    return months if months in MONTH_STEPS and np.all(apart == months) else 0


def known_ahead(times: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Target times of `horizon` steps from each origin (an index into `times`, the epoch seconds
    of a series): the series' own times where it has them, past its end the mean step on."""
    targets = np.asarray(origins)[:, None] + np.arange(horizon)
    last = len(times) - 1
    step = float(times[-1] - times[0]) / max(1, last)
    return times[np.minimum(targets, last)] + step * np.maximum(targets - last, 0)


def require_times(times: object, count: int, what: str) -> np.ndarray:
    """`count` finite epoch seconds for a calendar model, or a ForecastInputError saying what to send."""
    if times is None:
        raise ForecastInputError(
            f"this model reads the calendar (its forecasts depend on the date): pass the {what} timestamps"
        )
    t = np.asarray(times, dtype=np.float64)
    if t.ndim == 0:
        t = np.full(count, float(t))
    if t.shape != (count,) or not np.all(np.isfinite(t)):
        raise ForecastInputError(f"the {what} timestamps must be {count} finite epoch seconds, got shape {t.shape}")
    return t
