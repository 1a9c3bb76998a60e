"""Where a rolling-origin backtest cuts its test blocks (`ml.backtest` scores them).

Default block: `TEST_SHARE` of the series spread over the folds, and at least one season, so
that every block of a seasonal series covers each phase of the cycle. When that asks for too
much (short series, long seasons), the number of folds drops first, keeping the blocks
testing at most `MAX_TEST_SHARE` of the series and leaving at least `min_train` points before
the first (`min_train_points`: 20, or three seasons). So 48 yearly points give 5 blocks of 2,
96 months 3 blocks of 12, 600 months 5 blocks of 24, and 24 yearly points 4 blocks of 1; a
series too short for one block (fewer than min_train + horizon points, e.g. 40 months) makes
`plan_folds` raise ForecastInputError saying how many points it needs;
`plan_folds_or_short_blocks`, which the backtests use by default, then tries blocks without the
season's length, as `selection.select` does before it falls back to a unit on first
differences. Blocks hold at most MAX_BLOCK points.
"""

import math
from dataclasses import dataclass

from ml.errors import ForecastInputError

DEFAULT_FOLDS = 5
TEST_SHARE = 0.2
MAX_TEST_SHARE = 0.4
MIN_TRAIN = 20
MAX_BLOCK = 2_000


@dataclass(frozen=True)
class FoldPlan:
    """Where each test block starts (`origins`, oldest first) and how long each is (`horizon`)."""

    origins: tuple[int, ...]
    horizon: int
    n_points: int

    @property
    def first_origin(self) -> int:
        """Training points of the first fold: the shortest series any candidate is fitted on."""
        return self.origins[0]

    @property
    def folds(self) -> int:
        return len(self.origins)


def default_horizon(n_points: int, season_length: int = 1, folds: int = DEFAULT_FOLDS) -> int:
    """Points per test block: TEST_SHARE of the series over the folds, at least one season."""
    share = math.ceil(TEST_SHARE * n_points / max(folds, 1))
    return int(min(MAX_BLOCK, max(1, share, season_length if season_length > 1 else 1)))


def min_train_points(season_length: int = 1) -> int:
    """Points before the first block: enough for small units, and three seasons for seasonal ones."""
    return max(MIN_TRAIN, 3 * season_length)


def plan_folds(
    n_points: int,
    season_length: int = 1,
    folds: int = DEFAULT_FOLDS,
    horizon: int | None = None,
    min_train: int | None = None,
) -> FoldPlan:
    """The expanding-window folds for a series of `n_points` (see the module docstring)."""
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
        raise ForecastInputError(f"folds must be an integer >= 1, got {folds!r}")
    block = default_horizon(n_points, season_length, folds) if horizon is None else int(horizon)
    if block < 1:
        raise ForecastInputError(f"horizon must be >= 1, got {horizon!r}")
    train = min_train_points(season_length) if min_train is None else int(min_train)
    fitting = min(folds, (n_points - train) // block, max(1, int(MAX_TEST_SHARE * n_points) // block))
    if fitting < 1:
        raise ForecastInputError(
            f"too few points to backtest: {n_points} given, but {train} training points before a test block "
            f"of {block} need at least {train + block}"
        )
    first = n_points - fitting * block
    return FoldPlan(tuple(first + i * block for i in range(fitting)), block, n_points)


def plan_folds_or_short_blocks(n_points: int, season_length: int = 1, folds: int = DEFAULT_FOLDS) -> FoldPlan:
    """Folds of a season's blocks or, for a series too short for them (a new hourly sensor with
    two days of readings), of short blocks: what the search and the champion gate both judge on."""
    try:
        return plan_folds(n_points, season_length, folds)
    except ForecastInputError:
        return plan_folds(n_points, 1, folds)
