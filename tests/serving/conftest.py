"""Fixtures of the API tests: a registry with trained champions, and the app on top of it."""

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from core.processes import poll_until
from core.settings import get_settings
from core.training_config import TrainingConfig
from pipelines.flows import train_series
from serving.app import create_app
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
def make_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., TestClient]]:
    """Start the app (lifespan included) with extra settings from the environment."""
    clients: list[TestClient] = []

    def make(**env: str) -> TestClient:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        client = TestClient(create_app(get_settings()), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        _wait_loaded(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
    get_settings.cache_clear()


def _wait_loaded(client: TestClient, timeout: float = 20.0) -> None:
    """The first registry read runs in the background at startup; wait for its outcome."""
    store = client.app.state.mlts.store
    poll_until(lambda: store.registry_reachable is not None, timeout)


@pytest.fixture
def api(champion, make_client) -> TestClient:
    return make_client()
