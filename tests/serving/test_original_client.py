"""The original system's client, unchanged, against `mlts serve` started as a user starts it."""

import httpx
import pytest

from tests.serving.original_client import TimeSeriesAPIClient, example_data


def _original_documents(n: int = 600) -> list[dict]:
    from tests.series_data import daily_series, documents

    docs = documents(daily_series(n), sensor="sensor_1")
    for doc in docs:
        doc["timestamp"] = doc["timestamp"].strftime("%Y-%m-%dT%H:%M:%SZ")
        doc["additional_features"]["location"] = "office"
    return docs


@pytest.fixture
def served(start_api) -> tuple[str, float]:
    return start_api(MODEL_REFRESH_SECONDS="1")


@pytest.mark.slow
def test_original_client_health_train_predict_sequence(mongo_db, served) -> None:
    base, startup = served
    assert startup < 15
    mongo_db.sensor_data.insert_many(_original_documents())
    client = TimeSeriesAPIClient(base)

    health = client.health_check()
    assert health["status"] in ("healthy", "degraded") and health["database"] == "connected"
    assert health["model_loaded"] is False

    trained = client.train_model("sensor_data", window_size=10, epochs=50)
    assert trained["decision"] == "promoted" and trained["metrics"]["epochs_trained"] <= 50

    prediction = client.predict(example_data(15), window_size=10)
    assert isinstance(prediction, float)

    assert client.health_check()["model_loaded"] is True
    info = client.model_info()
    assert info["name"] == "sensor_data.value" and info["window_size"] == 10
    database = client.test_database()
    assert database["status"] == "connected" and "sensor_data" in database["collections"]
    docs = httpx.get(f"{base}/openapi.json").json()
    assert {
        "/predict",
        "/predict/batch",
        "/train",
        "/train/{run_id}",
        "/health",
        "/ready",
        "/model/info",
        "/database/test",
        "/collections",
        "/collections/{name}/info",
        "/metrics",
    } <= set(docs["paths"])
    assert httpx.get(f"{base}/docs").status_code == 200
