"""The real public series shipped under tests/data/series (sources and licenses in its README)."""

from pathlib import Path

import numpy as np

FOLDER = Path(__file__).resolve().parents[1] / "data" / "series"
HOLDOUT_FRACTION = 0.2


def names() -> list[str]:
    return sorted(path.stem for path in FOLDER.glob("*.csv"))


def load(name: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Timestamps, values and the median sampling step in seconds."""
    rows = [line.split(",") for line in (FOLDER / f"{name}.csv").read_text().splitlines()[1:]]
    timestamps = np.array([np.datetime64(stamp.rstrip("Z"), "s") for stamp, _ in rows])
    values = np.array([float(value) for _, value in rows])
    step = float(np.median(np.diff(timestamps).astype("timedelta64[s]").astype(np.float64)))
    return timestamps, values, step


def split(values: np.ndarray) -> int:
    """Where the holdout starts: the last HOLDOUT_FRACTION of the series."""
    return len(values) - int(round(HOLDOUT_FRACTION * len(values)))
