"""The API while its MongoDB server stops and comes back: no restart needed."""

import re

from core.embedded_mongo import EmbeddedMongo
from core.mongo import connect
from core.monitoring import MILLISECONDS, unpacked
from core.processes import free_port, poll_until
from tests.series_data import daily_series, documents

POINTS = [
    {"timestamp": 1_706_745_600_000 + i * 3_600_000, "value": float(v)} for i, v in enumerate(daily_series()[-24:])
]


def test_api_survives_mongo_stopping_and_recovers_when_it_returns(
    tmp_path, mlflow_store, make_client, monkeypatch
) -> None:
    from core.training_config import TrainingConfig
    from pipelines.flows import train_series

    port = free_port()
    server = EmbeddedMongo(tmp_path / "mongo", port=port).start()
    try:
        monkeypatch.setenv("MONGODB_URL", server.url)
        monkeypatch.setenv("MONGODB_DATABASE", "outage")
        connect(server.url).outage.readings.insert_many(documents(daily_series()))
        from core.settings import get_settings

        get_settings.cache_clear()
        assert train_series(TrainingConfig(collection="readings", window_size=12))["decision"] == "promoted"
        api = make_client(MONGODB_TIMEOUT_MS="500", PREDICTION_LOG_QUEUE="10")
        assert api.get("/health").json()["database"] == "connected"
        assert api.post("/predict", json={"data": POINTS}).status_code == 200
        log = connect(server.url).outage.mlts_predictions
        assert poll_until(lambda: log.count_documents({}) == 1, 10)

        dropped = _dropped(api)
        server.stop()
        for _ in range(25):  # the log's queue holds 10: the oldest are dropped and counted
            assert api.post("/predict", json={"data": POINTS}).status_code == 200
        assert poll_until(lambda: _dropped(api) - dropped == 15, 10), _dropped(api) - dropped
        health = api.get("/health").json()
        assert health["database"] == "disconnected" and health["status"] == "degraded" and health["model_loaded"]
        assert api.post("/predict", json={"data": POINTS}).status_code == 200
        for path in ("/database/test", "/collections", "/collections/readings/info"):
            response = api.get(path)
            assert response.status_code == 503, (path, response.text)
            assert "not answering" in response.json()["detail"]
        from_mongo = api.post("/predict", json={"collection_name": "readings"})
        assert from_mongo.status_code == 503
        training = api.post("/train", json={"collection_name": "readings", "window_size": 12})
        assert training.status_code == 503 and "not answering" in training.json()["detail"]

        server = EmbeddedMongo(tmp_path / "mongo", port=port).start()
        assert poll_until(lambda: api.get("/health").json()["database"] == "connected", 20)
        assert api.get("/database/test").status_code == 200
        assert api.post("/predict", json={"collection_name": "readings"}).status_code == 200
        log = connect(server.url).outage.mlts_predictions
        # the ten kept while Mongo was away arrive (the one written before may not have outlived the
        # embedded server's stop), and so does the named-series forecast: logging resumed by itself
        queued = {"first_target_ms": POINTS[-1]["timestamp"] + 3_600_000}

        def arrived() -> int:
            return sum(doc["count"] for doc in log.find(queued))

        assert poll_until(lambda: arrived() >= 10, 20), arrived()
        later = queued["first_target_ms"]  # the named series ends later than POINTS: its target too
        assert poll_until(lambda: any(unpacked(doc["target_ms"], MILLISECONDS).max() > later for doc in log.find()), 10)
    finally:
        server.stop()


def _dropped(api) -> float:
    found = re.search(r"^mlts_prediction_log_dropped_total (\S+)$", api.get("/metrics").text, re.M)
    return float(found.group(1)) if found else 0.0
