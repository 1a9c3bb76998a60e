"""The sampling of a series: its step, its gaps, and the policies that deal with them."""

import numpy as np
import pytest

from ml.errors import ForecastInputError
from ml.sampling import describe_gaps, inspect, repair

WEEK = 7 * 86400.0


def _weekly_with_gaps() -> tuple[np.ndarray, np.ndarray]:
    """100 weeks, with 2 weeks missing after week 20 and 10 missing after week 60."""
    weeks = np.arange(112, dtype=np.float64)
    kept = np.concatenate([weeks[:21], weeks[23:61], weeks[71:]])
    return kept * WEEK, np.sin(kept / 5.0)


def test_step_gaps_and_irregular_timestamps_are_found() -> None:
    times, _ = _weekly_with_gaps()
    sampling = inspect(times)
    assert sampling.step == WEEK
    assert [(g.after / WEEK, g.missing) for g in sampling.gaps] == [(20, 2), (60, 10)]
    assert sampling.missing == 12 and sampling.largest.missing == 10 and sampling.irregular == 0
    jittered = times + np.where(np.arange(len(times)) % 10 == 3, 0.3 * WEEK, 0.0)
    assert inspect(jittered).irregular > 0
    assert inspect(np.arange(50.0) * 60).gaps == []


def test_fail_changes_nothing_and_names_the_gaps() -> None:
    times, values = _weekly_with_gaps()
    repaired = repair(times, values, "fail", max_gap=3)
    assert np.array_equal(repaired.values, values) and repaired.filled == 0
    text = describe_gaps(inspect(times), repaired.long_gaps, lambda t: f"week {t / WEEK:.0f}")
    assert text.startswith(
        "2 gaps in the sampling at a step of 7 days (12 points missing; the largest 10 after week 60)"
    )


def test_interpolate_fills_short_gaps_linearly_and_leaves_long_ones() -> None:
    times, values = _weekly_with_gaps()
    repaired = repair(times, values, "interpolate", max_gap=3)
    assert repaired.filled == 2 and [g.missing for g in repaired.long_gaps] == [10]
    filled_at = np.setdiff1d(repaired.times, times)
    assert np.allclose(filled_at / WEEK, [21, 22])
    between = np.interp(filled_at, times, values)
    assert np.allclose(repaired.values[np.isin(repaired.times, filled_at)], between)
    assert np.all(np.diff(repaired.times) > 0)
    everything = repair(times, values, "interpolate", max_gap=10)
    assert everything.filled == 12 and not everything.long_gaps and inspect(everything.times).gaps == []


def test_drop_before_keeps_the_data_after_the_last_long_gap() -> None:
    times, values = _weekly_with_gaps()
    repaired = repair(times, values, "drop_before", max_gap=3)
    assert repaired.times[0] == 71 * WEEK and repaired.dropped == 21 + 38 and repaired.filled == 0
    assert not repaired.long_gaps
    with pytest.raises(ForecastInputError, match="gaps must be one of"):
        repair(times, values, "guess", max_gap=3)
