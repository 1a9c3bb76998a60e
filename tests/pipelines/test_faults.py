"""Series that break training, and faults while training: the champion is never lost, nothing
broken is ever promoted, and every failure says why."""

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core import locks, registry
from core.embedded_mongo import EmbeddedMongo
from core.mongo import connect
from core.processes import Child, poll_until
from core.settings import get_settings
from core.training_config import TrainingConfig
from pipelines.flows import retrain_all, train_series
from tests.series_data import daily_series, documents

NAME = "readings.value"


@pytest.mark.parametrize(
    "kind",
    ["constant", "one huge outlier", "exploding 1e300"],
)
def test_series_that_break_training_never_put_nan_in_the_registry(mongo_db, mlflow_store, kind) -> None:
    values = daily_series()
    if kind == "constant":
        values = np.full(len(values), 7.25)
    elif kind == "one huge outlier":
        values = values.copy()
        values[400] = 1e12
    else:
        values = values * 1e299
    mongo_db.readings.insert_many(documents(values))
    state = train_series(TrainingConfig(collection="readings", window_size=12), return_state=True)
    if state.is_completed():
        client = registry.client(get_settings())
        model = registry.load_version(client, client.get_model_version(NAME, state.result()["version"]))
        assert np.isfinite(model.weights).all() and np.isfinite(model.bias)
        assert np.isfinite(model.predict(values[-12:])).all()
    else:
        assert "validation" in str(state.result(raise_on_failure=False))


def _champion_version() -> str | None:
    client = registry.client(get_settings())
    version = registry.version_by_alias(client, NAME, "champion")
    return None if version is None else str(version.version)


def test_mongo_stopped_mid_training_fails_cleanly_and_keeps_the_champion(tmp_path, mlflow_store, monkeypatch) -> None:
    server = EmbeddedMongo(tmp_path / "mongo").start()
    try:
        monkeypatch.setenv("MONGODB_URL", server.url)
        monkeypatch.setenv("MONGODB_DATABASE", "faults")
        monkeypatch.setenv("MONGODB_TIMEOUT_MS", "300")
        get_settings.cache_clear()
        connect(server.url).faults.readings.insert_many(documents(daily_series()))
        assert train_series(TrainingConfig(collection="readings", window_size=12))["decision"] == "promoted"

        watcher = connect(server.url, 300).faults
        stopped = threading.Event()

        def stop_when_locked() -> None:
            if poll_until(lambda: watcher[locks.LOCKS_COLLECTION].count_documents({}) > 0, 60, 0.002, 0.002):
                server.stop()
                stopped.set()

        thread = threading.Thread(target=stop_when_locked)
        thread.start()
        started = time.monotonic()
        state = train_series(TrainingConfig(collection="readings", window_size=12, epochs=5), return_state=True)
        thread.join()
        assert stopped.is_set() and state.is_failed()
        assert time.monotonic() - started > 5  # the load task retried (1 + 2 + 4 s) before giving up
        assert "ServerSelectionTimeoutError" in type(state.result(raise_on_failure=False)).__name__ + str(state.message)

        server = EmbeddedMongo(tmp_path / "mongo", port=server.port).start()
        assert _champion_version() == "1"
        again = train_series(
            TrainingConfig(collection="readings", window_size=12)
        )  # the left-behind lock does not block it
        assert again["status"] == "succeeded" and again["decision"] == "challenger"
    finally:
        server.stop()


def test_mlflow_unreachable_fails_training_with_a_clear_error(mongo_db, seed_series, monkeypatch, tmp_path) -> None:
    from core.processes import free_port

    seed_series()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    get_settings.cache_clear()
    state = train_series(TrainingConfig(collection="readings", window_size=12), return_state=True)
    assert state.is_failed()
    error = str(state.result(raise_on_failure=False))
    assert "127.0.0.1" in error and ("Connection refused" in error or "Max retries" in error or "API request" in error)
    assert mongo_db[locks.LOCKS_COLLECTION].count_documents({}) == 0


def test_a_killed_training_leaves_the_previous_champion_and_the_next_run_starts_cleanly(
    mongo_db, mongo_url, mlflow_store, seed_series
) -> None:
    seed_series()
    assert train_series(TrainingConfig(collection="readings", window_size=12))["decision"] == "promoted"
    env = {
        **os.environ,
        "MONGODB_URL": mongo_url,
        "MONGODB_DATABASE": mongo_db.name,
        "MLFLOW_TRACKING_URI": mlflow_store,
    }
    command = [str(Path(sys.executable).parent / "mlts"), "train", "--collection", "readings", "--window-size", "12"]
    with Child.spawn(command, "mlts train", env=env) as training:
        poll_until(lambda: mongo_db[locks.LOCKS_COLLECTION].count_documents({}) > 0, 120, first=0.01, longest=0.02)
        training.process.send_signal(signal.SIGKILL)
        training.process.wait()
    assert mongo_db[locks.LOCKS_COLLECTION].count_documents({}) == 1  # left behind by the dead process
    assert _champion_version() == "1"
    again = train_series(TrainingConfig(collection="readings", window_size=12))
    assert again["status"] == "succeeded" and _champion_version() == "1"
    assert mongo_db[locks.LOCKS_COLLECTION].count_documents({}) == 0


def test_corrupt_champion_is_replaced_and_a_corrupt_version_cannot_be_promoted_by_hand(
    mongo_db, mlflow_store, seed_series
) -> None:
    from ml.errors import ModelFormatError
    from pipelines import promotion

    seed_series()
    first = train_series(TrainingConfig(collection="readings", window_size=12))
    settings = get_settings()
    client = registry.client(settings)
    path = Path(registry.model_json_uri(client, client.get_model_version(NAME, "1")).removeprefix("file://"))
    path.write_text(path.read_text()[:50])  # truncated JSON
    with pytest.raises(ModelFormatError):
        promotion.promote_by_hand(client, settings, NAME, "1")
    second = train_series(TrainingConfig(collection="readings", window_size=12))
    assert second["decision"] == "promoted" and "could not be loaded" in second["reason"]
    assert first["version"] == "1" and _champion_version() == "2"


def test_concurrent_retrain_all_runs_never_race_for_the_alias(mongo_db, mlflow_store, seed_series) -> None:
    seed_series()
    series = [{"collection": "readings", "window_size": 12}]
    results: list[dict] = []
    threads = [threading.Thread(target=lambda: results.append(retrain_all(series=series))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = [r["results"][0] for r in results]
    winners = [o for o in outcomes if o["status"] == "succeeded"]
    losers = [o for o in outcomes if o["status"] == "failed"]
    assert winners, outcomes
    assert all("already being trained" in o["error"] for o in losers)
    promoted = [o for o in winners if o["decision"] == "promoted"]
    assert len(promoted) == 1 and _champion_version() == promoted[0]["version"]
    client = registry.client(get_settings())
    tags = [client.get_model_version(NAME, o["version"]).tags["mlts.decision"] for o in winners]
    assert tags.count("promoted") == 1
    assert json.dumps(outcomes)
