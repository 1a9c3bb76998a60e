"""The prediction log: what /predict records (off the request path), the shadow challenger, and
the switch that turns it off."""

import time

import numpy as np
import pytest

from core.monitoring import MILLISECONDS, NUMBERS, STEPS, request_ids, unpacked
from core.processes import poll_until
from core.settings import get_settings
from core.training_config import TrainingConfig
from pipelines.flows import train_series
from serving.log_documents import grouped as _grouped
from serving.log_documents import merge as _merge
from tests.series_data import daily_series
from tests.serving.conftest import FILTER_S1, MODEL_S1

LOG = "mlts_predictions"


def _points(values: np.ndarray, start_ms: int = 1_706_745_600_000) -> list[dict]:
    return [{"timestamp": start_ms + i * 3_600_000, "value": float(v)} for i, v in enumerate(values)]


def _logged(mongo_db, count: int) -> list[dict]:
    assert poll_until(lambda: mongo_db[LOG].count_documents({}) >= count, 10), "nothing reached the prediction log"
    return list(mongo_db[LOG].find({}, {"_id": 0}))


def test_a_forecast_with_timestamps_is_logged_with_its_model_and_series(api, mongo_db) -> None:
    answer = api.post("/predict", json={"data": _points(daily_series()[-30:]), "horizon": 3})
    assert answer.status_code == 200
    body = answer.json()
    (doc,) = _logged(mongo_db, 1)
    assert (doc["model"], doc["version"], doc["role"]) == (MODEL_S1, "1", "champion")
    assert doc["series"] == {"collection": "readings", "value_field": "value", "timestamp_field": "timestamp"} | {
        "filter": FILTER_S1
    }
    stamps = [np.datetime64(p["timestamp"].rstrip("Z"), "ms").astype(np.int64) for p in body["predictions"]]
    assert unpacked(doc["target_ms"], MILLISECONDS).tolist() == stamps and doc["first_target_ms"] == stamps[0]
    for name in ("value", "lower", "upper"):
        assert unpacked(doc[name], NUMBERS) == pytest.approx([p[name] for p in body["predictions"]], rel=1e-12)
    assert doc["count"] == 1 and unpacked(doc["horizon"], STEPS).tolist() == [3] and len(doc["request_id"][0]) == 32
    assert doc["issued_at"].year >= 2026 and unpacked(doc["issued_ms"], MILLISECONDS)[0] == pytest.approx(
        doc["issued_at"].timestamp() * 1000, abs=1
    )


def test_a_forecast_of_a_named_series_is_logged_under_that_series(api, mongo_db) -> None:
    answer = api.post("/predict", json={"collection_name": "readings", "filter": FILTER_S1, "horizon": 2})
    assert answer.status_code == 200, answer.text
    (doc,) = _logged(mongo_db, 1)
    assert doc["series"]["collection"] == "readings" and doc["series"]["filter"] == FILTER_S1
    assert len(unpacked(doc["target_ms"], MILLISECONDS)) == 2 and doc["role"] == "champion"


@pytest.mark.parametrize("horizon", [1, 2])  # one step goes through the model's lane, more through the queue
def test_the_challenger_forecasts_in_the_shadow_and_is_logged_not_answered(
    champion, make_client, mongo_db, horizon
) -> None:
    worse = train_series(TrainingConfig(collection="readings", filter=FILTER_S1, window_size=12, epochs=1))
    assert worse["decision"] == "challenger"
    api = make_client()
    assert poll_until(lambda: MODEL_S1 in api.app.state.mlts.store.challengers, 10)
    values = daily_series()[-30:]
    answer = api.post("/predict", json={"data": _points(values), "horizon": horizon})
    assert answer.status_code == 200 and answer.json()["model"]["version"] == "1"
    docs = {doc["role"]: doc for doc in _logged(mongo_db, 2)}
    assert (docs["champion"]["version"], docs["challenger"]["version"]) == ("1", "2")
    assert request_ids(docs["champion"]) == request_ids(docs["challenger"]) and len(request_ids(docs["champion"])) == 1
    assert docs["champion"]["target_ms"] == docs["challenger"]["target_ms"]
    shadow = unpacked(docs["challenger"]["value"], NUMBERS)
    challenger = api.app.state.mlts.store.challengers[MODEL_S1].model
    assert shadow == pytest.approx(challenger.forecast(values, horizon), rel=1e-12)
    assert shadow != pytest.approx(unpacked(docs["champion"]["value"], NUMBERS))


def test_prediction_log_off_records_nothing(champion, make_client, mongo_db) -> None:
    api = make_client(PREDICTION_LOG="off")
    for _ in range(3):
        assert api.post("/predict", json={"data": _points(daily_series()[-30:])}).status_code == 200
    time.sleep(1.5)  # three flush periods
    assert mongo_db[LOG].count_documents({}) == 0
    assert api.get("/monitoring").json()["prediction_log"]["enabled"] is False
    get_settings.cache_clear()


def test_forecasts_written_together_share_one_document_per_model_and_role(api, mongo_db) -> None:
    """The writer groups a batch: many requests, one document (the bucket pattern), every
    forecast still there with its own request id, issue time and horizon."""
    writer = api.app.state.mlts.log
    data = _points(daily_series()[-30:])
    for horizon in (1, 1, 2, 3):
        assert api.post("/predict", json={"data": data, "horizon": horizon}).status_code == 200
    assert api.post("/predict", json={"data": data}, headers={"X-Request-ID": "client-7"}).status_code == 200
    _logged(mongo_db, 1)
    assert poll_until(lambda: writer.pending() == 0, 5)
    docs = list(mongo_db[LOG].find({}, {"_id": 0}))
    assert sum(d["count"] for d in docs) == 5
    assert sorted(h for d in docs for h in unpacked(d["horizon"], STEPS)) == [1, 1, 1, 2, 3]
    assert sum(len(unpacked(d["target_ms"], MILLISECONDS)) for d in docs) == 8
    ids = [r for d in docs for r in request_ids(d)]
    assert len(set(ids)) == 5 and "client-7" in ids


def test_a_batch_becomes_one_document_per_model_version_role_and_series() -> None:
    series = {"collection": "c"}
    batch = [
        (("m", "1", role, None), series, "r", 1.5, [t, t + 1], [1.0, 2.0], [0.0, 1.0], [2.0, 3.0])
        for role, t in (("champion", 20), ("champion", 10), ("challenger", 10))
    ]
    champion, challenger = _grouped(batch).values()
    assert champion["series"] == challenger["series"] == series and champion["model"] == "m"
    assert (champion["role"], champion["count"], challenger["count"]) == ("champion", 2, 1)
    assert unpacked(champion["target_ms"], MILLISECONDS).tolist() == [20, 21, 10, 11]
    assert champion["first_target_ms"] == 10 and unpacked(champion["horizon"], STEPS).tolist() == [2, 2]
    assert unpacked(champion["issued_ms"], MILLISECONDS).tolist() == [1500, 1500]
    assert unpacked(challenger["value"], NUMBERS).tolist() == [1.0, 2.0]


def _forecast(i: int) -> tuple:
    """A queue entry of the champion: forecast i, of horizon 1 or 2."""
    horizon = 1 + i % 2
    targets = [10 * i + step for step in range(horizon)]
    return (
        ("m", "1", "champion", None),
        None,
        f"r{i}",
        1.0 + i,
        targets,
        [i] * horizon,
        [i - 1.0] * horizon,
        [i + 1.0] * horizon,
    )


def test_the_parts_of_a_batch_merge_into_the_documents_of_the_whole() -> None:
    """The writer groups a batch in chunks (the event loop turns in between) and inserts one
    document per group: the merged parts must hold what grouping the whole batch at once gives."""
    batch = [_forecast(i) for i in range(7)]
    merged: dict = {}
    for start, stop in ((0, 3), (3, 5), (5, 7)):
        _merge(merged, _grouped(batch[start:stop]))
    (whole,) = _grouped(batch).values()
    (parts,) = merged.values()
    assert parts["count"] == whole["count"] == 7
    assert parts["first_target_ms"] == whole["first_target_ms"] == 0
    for name in ("request_id", "horizon", "issued_ms", "target_ms", "value", "lower", "upper"):
        assert parts[name] == whole[name], name
