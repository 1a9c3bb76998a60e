"""Fixtures of the pipeline tests: series written to the test's Mongo database."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.ml.series_factory import ar

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def documents(values: np.ndarray, sensor: str = "s1", start: datetime = T0, step: timedelta = timedelta(hours=1)) -> list[dict]:
    return [
        {"timestamp": start + i * step, "value": float(v), "additional_features": {"sensor_id": sensor}}
        for i, v in enumerate(values)
    ]


def daily_series(n: int = 800, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 20 + 4 * np.sin(2 * np.pi * t / 24) + ar(rng, n, [0.7], scale=0.4)


@pytest.fixture
def seed_series(mongo_db) -> Callable[..., list[dict]]:
    """Write a series into a collection of the test database and return its documents."""

    def seed(collection: str = "readings", values: np.ndarray | None = None, sensor: str = "s1", **kwargs) -> list[dict]:
        docs = documents(daily_series() if values is None else values, sensor, **kwargs)
        mongo_db[collection].insert_many([dict(d) for d in docs], ordered=False)
        return docs

    return seed
