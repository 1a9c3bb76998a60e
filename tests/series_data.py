"""Series documents for the tests, in the original system's format."""

from datetime import UTC, datetime, timedelta

import numpy as np

from tests.ml.series_factory import ar

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def documents(
    values: np.ndarray, sensor: str = "s1", start: datetime = T0, step: timedelta = timedelta(hours=1)
) -> list[dict]:
    return [
        {"timestamp": start + i * step, "value": float(v), "additional_features": {"sensor_id": sensor}}
        for i, v in enumerate(values)
    ]


def daily_series(n: int = 800, seed: int = 3) -> np.ndarray:
    """Hourly readings with a daily cycle and autocorrelated noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 20 + 4 * np.sin(2 * np.pi * t / 24) + ar(rng, n, [0.7], scale=0.4)
