"""Fixtures of the API tests: a registry with trained champions, and the app on top of it."""

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.processes import Child, free_port, poll_until
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
def start_api(mongo_db, mongo_url, mlflow_store, tmp_path: Path) -> Iterator[Callable[..., tuple[str, float]]]:
    """`mlts serve` as a user starts it, on this test's database and MLflow store, with more
    options and settings if given; stopped (with all it started) when the test ends. Returns its
    URL and the seconds it took to answer /health."""
    children: list[Child] = []

    def start(*options: str, **env: str) -> tuple[str, float]:
        port = free_port()
        environment = {
            "MONGODB_URL": mongo_url,
            "MONGODB_DATABASE": mongo_db.name,
            "MLFLOW_TRACKING_URI": mlflow_store,
            "PORT": str(port),
            **env,
        }
        command = [str(Path(sys.executable).parent / "mlts"), "serve", "--host", "127.0.0.1", *options]
        started = time.monotonic()
        child = Child.spawn(command, "mlts serve", tmp_path / f"api-{port}.log", env=environment)
        children.append(child)
        base = f"http://127.0.0.1:{port}"
        child.wait_http(f"{base}/health", timeout=60)
        return base, time.monotonic() - started

    yield start
    for child in children:
        child.stop()


@pytest.fixture
def api(champion, make_client) -> TestClient:
    return make_client()
