"""The sampling of a series: its step, its gaps, its irregular timestamps, and what to do about
the gaps before a window model sees the values as if they were consecutive.

A window of the last `w` values means "the last `w` steps" only when the points are evenly
spaced; a weekly series missing 59 weeks would otherwise be learned as if those weeks never
existed. Timestamps are float seconds here (any epoch), so training and serving share the code.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ml.errors import ForecastInputError

GapPolicy = Literal["fail", "interpolate", "drop_before"]
GAP_POLICIES: tuple[str, ...] = ("fail", "interpolate", "drop_before")
GAP_RATIO = 1.5  # a spacing this many steps or more is a gap (at least one point missing)
JITTER = 0.1  # a spacing further than this from a whole number of steps is irregular
_EXAMPLES = 5


@dataclass(frozen=True)
class Gap:
    after: float  # the timestamp before the gap
    before: float  # the timestamp after it
    missing: int  # points missing at the step


@dataclass(frozen=True)
class Sampling:
    step: float  # median spacing, seconds
    gaps: list[Gap] = field(default_factory=list)
    irregular: int = 0  # spacings that are not a whole number of steps
    points: int = 0

    @property
    def missing(self) -> int:
        return sum(gap.missing for gap in self.gaps)

    @property
    def largest(self) -> Gap | None:
        return max(self.gaps, key=lambda gap: gap.missing) if self.gaps else None


def inspect(times: np.ndarray, step: float | None = None) -> Sampling:
    """The step of increasing timestamps (given, or their median spacing), and where points are
    missing."""
    times = np.asarray(times, dtype=np.float64)
    if len(times) < (2 if step else 3):
        return Sampling(float("nan") if step is None else step, points=len(times))
    spacing = np.diff(times)
    step = float(np.median(spacing)) if step is None else float(step)
    if not step > 0:
        return Sampling(step, points=len(times))
    ratio = spacing / step
    gap_at = np.flatnonzero(ratio >= GAP_RATIO)
    missing = np.rint(ratio[gap_at]).astype(np.int64) - 1
    gaps = [Gap(float(times[i]), float(times[i + 1]), int(max(m, 1))) for i, m in zip(gap_at, missing)]
    off_grid = np.abs(ratio - np.rint(ratio)) > JITTER
    return Sampling(step, gaps, int(np.count_nonzero(off_grid)), len(times))


@dataclass(frozen=True)
class Repair:
    """What a policy did to a series: the values to train on (or forecast from), and how many
    points were filled in or dropped."""

    times: np.ndarray
    values: np.ndarray
    filled: int = 0
    dropped: int = 0
    long_gaps: list[Gap] = field(default_factory=list)  # gaps the policy left in place


def repair(
    times: np.ndarray, values: np.ndarray, policy: GapPolicy, max_gap: int, sampling: Sampling | None = None
) -> Repair:
    """Apply a gap policy. `fail` changes nothing (its gaps are left for validation to name);
    `interpolate` fills gaps of at most `max_gap` missing points linearly; `drop_before` keeps
    the data after the last gap longer than `max_gap`, then fills the shorter ones. Gaps the
    policy cannot fill are returned in `long_gaps`."""
    if policy not in GAP_POLICIES:
        raise ForecastInputError(f"gaps must be one of {', '.join(GAP_POLICIES)}, got {policy!r}")
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    sampling = sampling or inspect(times)
    if policy == "fail" or not sampling.gaps:
        return Repair(times, values, long_gaps=list(sampling.gaps) if policy == "fail" else [])
    dropped = 0
    long_gaps = [gap for gap in sampling.gaps if gap.missing > max_gap]
    if policy == "drop_before" and long_gaps:
        keep = times >= long_gaps[-1].before
        dropped = int(np.count_nonzero(~keep))
        times, values = times[keep], values[keep]
        long_gaps = []
    short = [gap for gap in sampling.gaps if gap.missing <= max_gap and gap.after >= times[0]]
    if not short:
        return Repair(times, values, 0, dropped, long_gaps)
    filled_times = np.concatenate([gap.after + sampling.step * np.arange(1, gap.missing + 1) for gap in short])
    all_times = np.concatenate([times, filled_times])
    order = np.argsort(all_times, kind="stable")
    all_times = all_times[order]
    all_values = np.interp(all_times, times, values)
    return Repair(all_times, all_values, len(filled_times), dropped, long_gaps)


def describe_gaps(sampling: Sampling, gaps: list[Gap], stamp: Callable[[float], str] = str) -> str:
    """`3 gaps (12 points missing; the largest 5 points after 2024-01-03T04:00:00), e.g. …`."""
    if not gaps:
        return "no gaps"
    largest = max(gaps, key=lambda gap: gap.missing)
    examples = ", ".join(f"{gap.missing} after {stamp(gap.after)}" for gap in gaps[:_EXAMPLES])
    return (
        f"{len(gaps)} gap{'s' if len(gaps) > 1 else ''} in the sampling at a step of {_duration(sampling.step)} "
        f"({sum(g.missing for g in gaps)} points missing; the largest {largest.missing} after "
        f"{stamp(largest.after)}), e.g. {examples}"
    )


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size and abs(seconds / size - round(seconds / size)) < 1e-6:
            count = int(round(seconds / size))
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return f"{seconds:g} s"
