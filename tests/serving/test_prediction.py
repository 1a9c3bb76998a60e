"""The answer's timestamps: the next steps after the points, spaced like them; months for
monthly, quarterly and yearly points, whose steps are not all the same length."""

import numpy as np
import pytest

from serving.prediction import next_timestamps


def _ms(stamps: np.ndarray) -> list[float]:
    return stamps.astype("datetime64[ms]").astype(np.int64).astype(float).tolist()


def _next(times: list[float], horizon: int) -> list[str | None]:
    return next_timestamps(times, np.diff(times).tolist(), horizon, None)[0]


@pytest.mark.parametrize(
    ("stamps", "horizon", "expected"),
    [
        (np.arange("2024-01", "2025-01", dtype="datetime64[M]"), 3, ["2025-01-01", "2025-02-01", "2025-03-01"]),
        (np.arange("2024-01", "2024-03", dtype="datetime64[M]"), 1, ["2024-03-01"]),  # 31 days on is 4 March
        (np.arange("2020-01", "2024-01", 3, dtype="datetime64[M]"), 2, ["2024-01-01", "2024-04-01"]),
        (np.arange("2000", "2010", dtype="datetime64[Y]").astype("datetime64[D]") + 9, 2, ["2010-01-10", "2011-01-10"]),
        (np.datetime64("2024-02-25") + 7 * np.arange(5), 2, ["2024-03-31", "2024-04-07"]),
    ],
    ids=["monthly", "monthly, one step", "quarterly", "yearly", "weekly"],
)
def test_next_timestamps_follow_the_calendar(stamps: np.ndarray, horizon: int, expected: list[str]) -> None:
    assert _next(_ms(stamps), horizon) == [f"{day}T00:00:00Z" for day in expected]


def test_points_not_on_one_day_of_the_month_keep_the_median_step() -> None:
    ends = np.array(["2024-01-31", "2024-02-29", "2024-03-31"], dtype="datetime64[D]")  # 29 and 31 days apart
    assert _next(_ms(ends), 2) == ["2024-04-30T00:00:00Z", "2024-05-30T00:00:00Z"]
    hourly = (np.datetime64("2024-05-01T00:00") + np.arange(10) * np.timedelta64(1, "h")).astype("datetime64[ms]")
    assert _next(_ms(hourly), 1) == ["2024-05-01T10:00:00Z"]
