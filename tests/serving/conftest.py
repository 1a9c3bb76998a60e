"""Fixtures of the API tests: a registry with trained champions, and the app on top of it."""

import pytest
from fastapi.testclient import TestClient

from core.training_config import TrainingConfig
from pipelines.flows import train_series
from tests.series_data import daily_series

FILTER_S1 = {"additional_features.sensor_id": "s1"}
MODEL_S1 = "readings.value.sensor_id-s1"


@pytest.fixture
def champion(mongo_db, mlflow_store, seed_series) -> dict:
    """One series in Mongo and its first version, promoted to champion by the real flow."""
    seed_series(values=daily_series(), sensor="s1")
    outcome = train_series(TrainingConfig(collection="readings", filter=FILTER_S1, window_size=12))
    assert outcome["decision"] == "promoted"
    return outcome


@pytest.fixture
def api(champion, make_client) -> TestClient:
    return make_client()
