"""Live monitoring: how good the served model still is, against its challenger and its intervals.

Served forecasts are logged, later joined with the actual values that arrived (`match_actuals`)
and scored (`live_metrics`); the champion is compared with its challenger on the same points
(`diebold_mariano`) and its intervals recalibrated from its live errors (`recalibrate_intervals`).
The drift tests are in ml/drift.py. Plain functions of numpy arrays, no I/O.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from ml.errors import ForecastInputError
from ml.metrics import mase

Evidence = dict[str, float | int | str | bool | None]


def json_number(value: float | None) -> float | None:
    """A float JSON can carry: None instead of NaN or infinity."""
    return float(value) if value is not None and math.isfinite(value) else None


def match_actuals(
    target_times: np.ndarray, actual_times: np.ndarray, actual_values: np.ndarray, tolerance: np.timedelta64
) -> tuple[np.ndarray, np.ndarray]:
    """For each target time, the index (into `actual_times`, sorted ascending) of the nearest actual
    time at most `tolerance` away, and the mask of targets that found one (their index is -1
    otherwise). Actuals whose value is missing (NaN) or whose time is NaT are never matched: a
    hole in the sensor's readings must not score a forecast against a neighbour. Equally near
    actuals: the earliest one wins."""
    targets = np.asarray(target_times).astype("datetime64[ns]")
    times = np.asarray(actual_times).astype("datetime64[ns]")
    values = np.asarray(actual_values, dtype=np.float64)
    if times.shape != values.shape:
        raise ForecastInputError(f"{len(times)} actual times but {len(values)} actual values")
    usable = np.flatnonzero(~np.isnat(times) & np.isfinite(values))
    known = times[usable].view(np.int64)
    if np.any(np.diff(known) < 0):
        raise ForecastInputError("actual times must be sorted ascending")
    index = np.full(targets.shape, -1, dtype=np.int64)
    matched = np.zeros(targets.shape, dtype=bool)
    if len(known) == 0:
        return index, matched
    wanted = targets.view(np.int64)
    after = np.clip(np.searchsorted(known, wanted, side="left"), 0, len(known) - 1)
    before = np.clip(after - 1, 0, len(known) - 1)
    before = np.searchsorted(known, known[before], side="left")  # the first of equal times
    # Distances as floats: int64 nanoseconds could overflow between far-apart dates.
    gap_before = np.abs(wanted.astype(np.float64) - known[before])
    gap_after = np.abs(known[after].astype(np.float64) - wanted)
    nearest = np.where(gap_before <= gap_after, before, after)
    gap = np.minimum(gap_before, gap_after)
    limit = float(np.timedelta64(tolerance, "ns").astype(np.int64))
    matched = (gap <= limit) & ~np.isnat(targets)
    index[matched] = usable[nearest[matched]]
    return index, matched


@dataclass(frozen=True)
class LiveMetrics:
    """Scores of served forecasts against the actuals that arrived; figures are None when
    undefined (no pairs, no MASE scale, no finite interval bounds). `bias` is the mean of
    actual - forecast: positive when the model forecasts too low."""

    n: int
    mae: float | None
    rmse: float | None
    mase: float | None
    bias: float | None
    coverage: float | None
    per_step: dict[int, dict[str, float | int | None]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready: step keys become strings (orjson and msgspec refuse int keys)."""
        overall = {name: getattr(self, name) for name in ("n", "mae", "rmse", "mase", "bias", "coverage")}
        return {**overall, "per_step": {str(step): dict(figures) for step, figures in self.per_step.items()}}


def live_metrics(
    forecast: np.ndarray,
    actual: np.ndarray,
    lower: np.ndarray | None,
    upper: np.ndarray | None,
    steps: np.ndarray,
    scale: float | None,
) -> LiveMetrics:
    """MAE, RMSE, MASE, bias and interval coverage of matched forecast/actual pairs, overall and
    per horizon step (the step 1..H each forecast was made for: errors grow with it, so an
    overall figure alone hides where a model fails). Pairs with a missing forecast or actual are
    left out; coverage counts only pairs whose bounds are both finite. `scale` is the in-sample
    naive MAE (`ml.metrics.naive_scale`) the holdout MASE used, so live and holdout MASE compare."""
    forecast = np.asarray(forecast, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    steps = np.asarray(steps)
    n_all = len(forecast)
    lower = np.full(n_all, np.nan) if lower is None else np.asarray(lower, dtype=np.float64)
    upper = np.full(n_all, np.nan) if upper is None else np.asarray(upper, dtype=np.float64)
    if not all(len(a) == n_all for a in (actual, lower, upper, steps)):
        raise ForecastInputError("forecast, actual, lower, upper and steps must have the same length")
    if n_all and (not np.all(steps == np.round(steps)) or np.min(steps) < 1):
        raise ForecastInputError("steps must be whole numbers from 1 (one step ahead) upwards")
    keep = np.isfinite(forecast) & np.isfinite(actual)
    errors, steps = (actual - forecast)[keep], steps[keep].astype(np.int64)
    bounded = np.isfinite(lower[keep]) & np.isfinite(upper[keep])
    inside = bounded & (actual[keep] >= lower[keep]) & (actual[keep] <= upper[keep])
    scale = float("nan") if scale is None else float(scale)
    columns = np.stack([np.ones_like(errors), np.abs(errors), errors**2, errors, bounded, inside])
    overall = _figures(columns.sum(axis=1), scale)
    per_step: dict[int, dict[str, float | int | None]] = {}
    if len(errors):
        # One pass per figure over all pairs: column sums per step, by bincount.
        by_step = np.stack([np.bincount(steps, weights=column, minlength=steps.max() + 1) for column in columns])
        per_step = {int(step): _figures(by_step[:, step], scale) for step in np.flatnonzero(by_step[0])}
    return LiveMetrics(per_step=per_step, **overall)


def _figures(sums: np.ndarray, scale: float) -> dict[str, float | int | None]:
    """The LiveMetrics figures from the sums of 1, |e|, e², e, bounded and inside over some pairs."""
    n, abs_sum, sq_sum, total, n_bounded, n_inside = (float(s) for s in sums)
    if n == 0:
        return {"n": 0, "mae": None, "rmse": None, "mase": None, "bias": None, "coverage": None}
    return {
        "n": int(n),
        "mae": abs_sum / n,
        "rmse": math.sqrt(sq_sum / n),
        "mase": json_number(mase(abs_sum / n, scale)),
        "bias": total / n,
        "coverage": n_inside / n_bounded if n_bounded else None,
    }


@dataclass(frozen=True)
class PairedTest:
    """Diebold-Mariano: is forecaster b more accurate than a on the same points? `p_value` is
    one-sided (small when b's squared errors are smaller), `p_value_two_sided` asks whether
    they differ at all; `mean_difference` is the mean of a² - b², positive when b is better."""

    statistic: float
    p_value: float
    p_value_two_sided: float
    n: int
    mean_difference: float
    horizon: int

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "statistic": json_number(self.statistic),
            "p_value": json_number(self.p_value),
            "p_value_two_sided": json_number(self.p_value_two_sided),
            "n": int(self.n),
            "mean_difference": json_number(self.mean_difference),
            "horizon": int(self.horizon),
        }


def diebold_mariano(errors_a: np.ndarray, errors_b: np.ndarray, horizon: int = 1) -> PairedTest:
    """Diebold & Mariano (1995) on the squared-error loss differential d = a² - b², with Harvey,
    Leybourne & Newbold's (1997) small-sample correction and normal p-values.

    h-step errors of forecasts made every step overlap, so d is MA(h-1) at best: its long-run
    variance takes autocovariances up to lag h-1 (rectangular kernel). When those make the
    variance non-positive, which can happen for h > 1, the lag-0 variance alone is used. Pairs
    with a missing error on either side are dropped."""
    a = np.asarray(errors_a, dtype=np.float64)
    b = np.asarray(errors_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ForecastInputError(f"the two error series differ in length: {len(a)} and {len(b)}")
    if horizon < 1:
        raise ForecastInputError(f"horizon must be at least 1, got {horizon!r}")
    keep = np.isfinite(a) & np.isfinite(b)
    d = a[keep] ** 2 - b[keep] ** 2
    n = len(d)
    if n < 2:
        raise ForecastInputError(f"Diebold-Mariano needs at least 2 paired errors, got {n}")
    mean = float(d.mean())
    centred = d - mean
    lags = min(horizon - 1, n - 1)
    autocovariances = np.array([np.dot(centred[j:], centred[: n - j]) / n for j in range(lags + 1)])
    long_run = autocovariances[0] + 2.0 * autocovariances[1:].sum()
    if long_run <= 0:
        long_run = autocovariances[0]
    correction = math.sqrt(max(n + 1 - 2 * horizon + horizon * (horizon - 1) / n, 0.0) / n)
    if long_run > 0:
        statistic = correction * mean / math.sqrt(long_run / n)
    else:  # every difference equal: no noise to measure against
        statistic = 0.0 if mean == 0 else math.copysign(math.inf, mean)
    return PairedTest(
        statistic=statistic,
        p_value=0.5 * math.erfc(statistic / math.sqrt(2.0)),
        p_value_two_sided=math.erfc(abs(statistic) / math.sqrt(2.0)),
        n=n,
        mean_difference=mean,
        horizon=int(horizon),
    )


def recalibrate_intervals(
    errors: np.ndarray, steps: np.ndarray, level: float, horizon: int, min_per_step: int = 20
) -> tuple[np.ndarray, np.ndarray] | None:
    """Interval offsets for steps 1..horizon from recent live errors (actual - forecast): online
    split conformal, so intervals follow the noise the model meets now, not the holdout's.

    Per step, with n errors and α = 1 - level, the upper offset is the ⌈(n+1)(1-α/2)⌉-th smallest
    error and the lower the same rank from the top: the finite-sample correction that makes each
    side miss at most α/2 on exchangeable errors (when that rank exceeds n, for tiny n or α, the
    extreme error stands in and the guarantee is lost). Steps with fewer than `min_per_step` errors
    borrow step 1's offsets times sqrt(h), as `ml.intervals` extrapolates; then, as there, a step
    is never narrower than the one before it. The offsets are not forced to straddle 0: a model
    that turned biased gets shifted bounds, which is the point. None when step 1 itself has
    fewer than `min_per_step` errors (keep the holdout's intervals). Wrap the result in
    `ml.intervals.PredictionIntervals(level, lower, upper)` to serve it."""
    if not 0.0 < level < 1.0:
        raise ForecastInputError(f"interval level must be between 0 and 1, got {level!r}")
    if horizon < 1 or min_per_step < 1:
        raise ForecastInputError(f"horizon and min_per_step must be at least 1, got {horizon!r}, {min_per_step!r}")
    errors = np.asarray(errors, dtype=np.float64)
    steps = np.asarray(steps)
    if errors.shape != steps.shape:
        raise ForecastInputError(f"{len(errors)} errors but {len(steps)} steps")
    keep = np.isfinite(errors) & (steps >= 1) & (steps <= horizon) & (steps == np.round(steps))
    errors, steps = errors[keep], steps[keep].astype(np.int64)
    counts = np.bincount(steps, minlength=horizon + 1)[1:]
    if counts[0] < min_per_step:
        return None
    # Sorted by step, then by error: step s's errors are one sorted run starting at starts[s-1].
    ordered = errors[np.lexsort((errors, steps))]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    alpha = 1.0 - level
    usable = np.maximum(counts, 1)
    rank = np.minimum(np.ceil((usable + 1) * (1.0 - alpha / 2.0)).astype(np.int64), usable)
    # Rank r from the bottom for the upper offset, rank r from the top for the lower one.
    upper = ordered[np.minimum(starts + rank - 1, len(ordered) - 1)]
    lower = ordered[np.minimum(starts + usable - rank, len(ordered) - 1)]
    borrowed = counts < min_per_step
    growth = np.sqrt(np.arange(1, horizon + 1))
    lower = np.where(borrowed, lower[0] * growth, lower)
    upper = np.where(borrowed, upper[0] * growth, upper)
    return np.minimum.accumulate(lower), np.maximum.accumulate(upper)
