"""`POST /train` and `GET /train/{run_id}`: the original synchronous call, the asynchronous one,
the API key, and one training per series."""

import threading
import time

import pytest

from core.settings import Settings
from serving.app import create_app
from tests.serving.conftest import FILTER_S1, MODEL_S1

BODY = {"collection_name": "readings", "filter": FILTER_S1, "window_size": 12, "epochs": 50}


def test_original_train_call_waits_and_the_next_prediction_uses_the_new_model(
    mongo_db, mlflow_store, seed_series, make_client
) -> None:
    seed_series()
    api = make_client()
    assert api.get("/ready").status_code == 503
    response = api.post("/train", json=BODY)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["decision"] == "promoted" and result["version"] == "1" and result["run_id"]
    assert {"rmse", "mae", "mse", "mase", "epochs_trained"} <= set(result["metrics"])
    points = [{"timestamp": 1_706_745_600_000 + i * 3_600_000, "value": 20.0 + i % 4} for i in range(12)]
    predicted = api.post("/predict", json={"data": points, "window_size": 12})
    assert predicted.status_code == 200 and predicted.json()["model"]["name"] == MODEL_S1


def test_async_training_answers_202_and_reports_its_state(mongo_db, mlflow_store, seed_series, make_client) -> None:
    seed_series()
    api = make_client()
    response = api.post("/train?async=true", json=BODY)
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["state"] == "running" and started["status_url"] == f"/train/{started['run_id']}"
    deadline, status = time.monotonic() + 120, {}
    while time.monotonic() < deadline:
        status = api.get(started["status_url"]).json()
        if status["state"] != "running":
            break
        time.sleep(0.2)
    assert status["state"] == "succeeded" and status["decision"] == "promoted" and status["version"] == "1"
    assert "rmse" in status["metrics"]
    deadline = time.monotonic() + 10
    while api.get("/ready").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert api.get("/ready").status_code == 200
    assert api.get("/train/" + "0" * 32).status_code == 404
    assert api.get("/train/not-a-run").status_code == 422


def test_prefer_respond_async_header_works_like_the_query(mongo_db, mlflow_store, seed_series, make_client) -> None:
    seed_series()
    api = make_client()
    response = api.post("/train", json=BODY, headers={"Prefer": "respond-async"})
    assert response.status_code == 202
    run_id = response.json()["run_id"]
    deadline = time.monotonic() + 120
    while api.get(f"/train/{run_id}").json()["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)


def test_two_concurrent_trainings_of_one_series_give_one_409(mongo_db, mlflow_store, seed_series, make_client) -> None:
    seed_series()
    api = make_client()
    statuses: list[int] = []
    details: list[str] = []

    def call() -> None:
        response = api.post("/train", json=BODY)
        statuses.append(response.status_code)
        details.append(response.text)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409], details
    assert any("already being trained" in d for d in details)


def test_api_key_is_required_when_set(mongo_db, mlflow_store, seed_series, make_client) -> None:
    seed_series()
    api = make_client(API_KEY="s3cret-key-for-tests")
    missing = api.post("/train", json=BODY)
    assert missing.status_code == 401 and "X-API-Key" in missing.json()["detail"]
    wrong = api.post("/train", json=BODY, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and "s3cret" not in wrong.text
    right = api.post("/train", json=BODY, headers={"X-API-Key": "s3cret-key-for-tests"})
    assert right.status_code == 200, right.text
    assert api.post("/predict", json={"data": [{"timestamp": 1, "value": 1.0}] * 1}).status_code != 401


def test_production_refuses_to_start_without_an_api_key() -> None:
    with pytest.raises(ValueError, match="ENVIRONMENT=production requires API_KEY"):
        create_app(Settings(environment="production", api_key=None))


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"collection_name": "nope"}, 404, "collection 'nope' does not exist"),
        ({"collection_name": "a.b"}, 422, "collection_name"),
        ({"collection_name": "readings", "epochs": 0}, 422, "epochs: Input should be greater than or equal to 1"),
        ({"collection_name": "readings", "window_size": -1}, 422, "window_size"),
        (
            {"collection_name": "readings", "filter": {"$where": "sleep(1)"}},
            422,
            "operators such as '$gt' are not accepted",
        ),
        ({"collection_name": "readings", "filter": {"a": {"$gt": 1}}}, 422, "filter"),
        ({"window_size": 10}, 422, "collection_name: Field required"),
        ({"collection_name": "readings", "window_size": 400}, 422, "too few points"),
    ],
)
def test_bad_training_requests(mongo_db, mlflow_store, seed_series, make_client, body, status, message) -> None:
    seed_series()
    api = make_client()
    response = api.post("/train", json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "recursion limit exceeded"),
        (b'{"collection_name": "a\\u0000b"}', "collection_name: String should match pattern"),
        (b'{"collection_name": "sensor$data"}', "collection_name: String should match pattern"),
        (b'{"collection_name": "readings", "epochs": NaN}', "epochs: Input should be a finite number"),
    ],
)
def test_malformed_training_bodies_get_422(mongo_db, mlflow_store, make_client, raw, message) -> None:
    api = make_client()
    response = api.post("/train", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
