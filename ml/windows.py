"""Sliding windows and the train/holdout split, shared by fitting, evaluation and intervals."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ml.errors import ForecastInputError

DEFAULT_HOLDOUT_FRACTION = 0.2
MAX_HOLDOUT = 10_000
MIN_HOLDOUT = 10


def as_series(values: object, name: str = "values") -> np.ndarray:
    """A finite float64 vector, or a ForecastInputError saying which element is wrong."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ForecastInputError(f"{name} must be numbers: {exc}") from None
    if array.ndim != 1:
        raise ForecastInputError(f"{name} must be a 1-D sequence of numbers, got shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ForecastInputError(
            f"{name} must be finite numbers: {int(bad.sum())} NaN or infinite value(s), "
            f"the first at position {first} ({array[first]!r})"
        )
    return array


def check_window_size(window_size: int) -> int:
    if isinstance(window_size, bool) or not isinstance(window_size, (int, np.integer)) or window_size < 1:
        raise ForecastInputError(f"window_size must be an integer >= 1, got {window_size!r}")
    return int(window_size)


def windows(values: np.ndarray, window_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (a read-only view, one row per window) and the value that follows each window."""
    return sliding_window_view(values[:-1], window_size), values[window_size:]


def minimum_points(window_size: int, min_holdout: int = MIN_HOLDOUT) -> int:
    """Points a series needs: as many training windows as the model has parameters, plus a holdout."""
    return 2 * window_size + 1 + min_holdout


def holdout_size(
    n_points: int,
    window_size: int,
    fraction: float = DEFAULT_HOLDOUT_FRACTION,
    max_size: int = MAX_HOLDOUT,
    min_size: int = MIN_HOLDOUT,
) -> int:
    """The last `fraction` of the series, at most `max_size` points, leaving enough to train on.

    The cap keeps evaluation cheap on long series and gives the training the rest; the floor
    keeps metrics and interval quantiles from resting on a handful of points.
    """
    if not 0.0 < fraction < 1.0:
        raise ForecastInputError(f"holdout fraction must be between 0 and 1, got {fraction!r}")
    needed = minimum_points(window_size, min_size)
    if n_points < needed:
        raise ForecastInputError(
            f"too few points: window_size={window_size} and a holdout of {min_size} need at least "
            f"{needed} points, got {n_points}"
        )
    size = min(max(int(round(n_points * fraction)), min_size), max_size)
    return min(size, n_points - (2 * window_size + 1))
