"""Following the registry, and saying how things are: /model/info, /health, /ready."""

import re
import threading
import time

from core import registry
from core.processes import free_port
from core.settings import get_settings
from core.training_config import TrainingConfig
from pipelines import promotion
from pipelines.flows import train_series
from tests.series_data import daily_series
from tests.serving.conftest import FILTER_S1, MODEL_S1

POINTS = [
    {"timestamp": 1_706_745_600_000 + i * 3_600_000, "value": float(v)} for i, v in enumerate(daily_series()[-24:])
]


def test_model_info_names_version_run_params_metrics_and_range(api) -> None:
    info = api.get("/model/info").json()
    assert info["model_loaded"] and info["default_model"] == MODEL_S1
    [model] = info["models"]
    assert model["name"] == MODEL_S1 and model["version"] == "1" and model["alias"] == "champion"
    assert model["params"]["window_size"] == "12" and "rmse" in model["metrics"]
    assert model["data_start"].startswith("2024-01-01T00:00:00") and model["data_end"].startswith("2024-02-03T07:00:00")
    assert model["trained_at"] and model["run_id"] == info["run_id"]


def test_promoting_in_the_registry_changes_the_served_version_without_a_failed_request(champion, make_client) -> None:
    worse = train_series(TrainingConfig(collection="readings", filter=FILTER_S1, window_size=12, epochs=1))
    assert worse["decision"] == "challenger"
    api = make_client(MODEL_REFRESH_SECONDS="0.2")
    seen, failures, stop = [], [], threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            response = api.post("/predict", json={"data": POINTS})
            if response.status_code != 200:
                failures.append(response.text)
            else:
                seen.append(response.json()["model"]["version"])

    thread = threading.Thread(target=hammer)
    thread.start()
    time.sleep(0.3)
    settings = get_settings()
    promotion.promote_by_hand(registry.client(settings), settings, MODEL_S1, "2")
    deadline = time.monotonic() + 5
    while (not seen or seen[-1] != "2") and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join()
    assert failures == []
    assert seen[0] == "1" and seen[-1] == "2"
    assert api.get("/model/info").json()["version"] == "2"


def test_health_is_healthy_with_a_model_and_the_database(api) -> None:
    body = api.get("/health").json()
    assert body["status"] == "healthy" and body["database"] == "connected" and body["model_loaded"] is True
    assert body["models"] == [{"name": MODEL_S1, "version": "1"}] and body["registry"] == "reachable"
    assert 0 < body["last_refresh_seconds"] < 30
    assert api.get("/ready").status_code == 200


def test_starts_without_mongo_and_without_a_model(mlflow_store, make_client) -> None:
    api = make_client(MONGODB_URL=f"mongodb://127.0.0.1:{free_port()}/", MONGODB_TIMEOUT_MS="300")
    body = api.get("/health").json()
    assert body == {**body, "status": "degraded", "database": "disconnected", "model_loaded": False, "models": []}
    ready = api.get("/ready")
    assert ready.status_code == 503
    response = api.post("/predict", json={"data": POINTS})
    assert response.status_code == 503 and "no model is loaded yet" in response.json()["detail"]
    test = api.get("/database/test")
    assert test.status_code == 503 and "is not answering" in test.json()["detail"]


def test_registry_unreachable_keeps_serving_and_reports_degraded(api) -> None:
    store = api.app.state.mlts.store
    store.settings = store.settings.model_copy(
        update={"mlflow_tracking_uri": None, "home": store.settings.home / "gone"}
    )
    # A tracking URI nothing answers at: an http server on a closed port.
    from pydantic import SecretStr

    store.settings = store.settings.model_copy(
        update={"mlflow_tracking_uri": SecretStr(f"http://127.0.0.1:{free_port()}")}
    )
    assert store.refresh() is False
    body = api.get("/health").json()
    assert body["status"] == "degraded" and body["registry"] == "unreachable" and body["model_loaded"]
    assert api.post("/predict", json={"data": POINTS}).status_code == 200


def test_a_corrupt_new_champion_is_refused_the_old_one_kept_and_the_failure_counted(champion, make_client) -> None:
    from pathlib import Path

    second = train_series(TrainingConfig(collection="readings", filter=FILTER_S1, window_size=12, epochs=1))
    settings = get_settings()
    client = registry.client(settings)
    path = Path(
        registry.model_json_uri(client, client.get_model_version(MODEL_S1, second["version"])).removeprefix("file://")
    )
    document = re.sub(r'"format_version": \d+', '"format_version": 99', path.read_text())
    path.write_text(document)
    api = make_client(MODEL_REFRESH_SECONDS="0.2")
    client.set_registered_model_alias(MODEL_S1, "champion", second["version"])  # moved by someone else
    time.sleep(1.0)
    assert api.post("/predict", json={"data": POINTS}).json()["model"]["version"] == "1"
    health = api.get("/health").json()
    assert "failed to load" in health["last_error"] and health["models"] == [{"name": MODEL_S1, "version": "1"}]
    metrics = api.get("/metrics").text
    assert f'mlts_model_load_failures_total{{model="{MODEL_S1}"}}' in metrics
    failures = [line for line in metrics.splitlines() if line.startswith("mlts_model_load_failures_total{")]
    assert float(failures[0].split()[-1]) >= 1
