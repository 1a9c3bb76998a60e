"""The monitoring loop end to end on the real stack: the API serves forecasts while actuals
arrive in Mongo, the prediction log records them, and `monitor_series` measures, detects drift,
retrains, promotes on live evidence and alerts."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from core import registry
from core.processes import free_port, poll_until
from core.settings import get_settings
from core.training_config import TrainingConfig
from pipelines.flows import train_series
from pipelines.monitoring import monitor_series, retrain_options
from tests import browser
from tests.series_data import daily_series, documents

FILTER = {"additional_features.sensor_id": "s1"}
MODEL = "readings.value.sensor_id-s1"
TRAINED = 800
HISTORY = 48


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    """A local alert receiver: its URL and the alerts it got."""
    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", free_port()), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/alerts", received
    server.shutdown()
    server.server_close()


class Replay:
    """A sensor whose readings arrive one by one while its client asks the API for the next ones."""

    def __init__(self, mongo_db, values: np.ndarray):
        self.db = mongo_db
        self.docs = documents(values)
        mongo_db.readings.insert_many([dict(d) for d in self.docs[:TRAINED]])
        self.arrived = TRAINED

    def run(self, api, points: int) -> None:
        for _ in range(points):
            recent = self.docs[self.arrived - HISTORY : self.arrived]
            data = [{"timestamp": d["timestamp"].isoformat(), "value": d["value"]} for d in recent]
            assert api.post("/predict", json={"data": data, "horizon": 3}).status_code == 200
            self.db.readings.insert_many([dict(self.docs[self.arrived])])
            self.arrived += 1
        flushed = api.app.state.mlts.log
        assert poll_until(lambda: not flushed.queue, 10)


def _series(n: int = 1300, shift_at: int | None = None, shift: float = 3.0) -> np.ndarray:
    values = daily_series(n, seed=11)
    if shift_at is not None:
        values[shift_at:] += shift
    return values


def test_calm_series_raises_no_drift_and_a_level_shift_is_caught_retrained_and_alerted(
    mongo_db, mlflow_store, make_client, webhook, tmp_path
) -> None:
    url, alerts = webhook
    replay = Replay(mongo_db, _series(shift_at=TRAINED + 150))
    assert train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=24))["decision"] == "promoted"
    api = make_client(ALERT_WEBHOOK_URL=url, SHADOW_CHALLENGER="false")

    replay.run(api, 150)
    calm = monitor_series(MODEL)
    champion = calm["roles"]["champion"]
    assert champion["version"] == "1" and champion["n"] >= 140 * 3
    assert champion["rmse"] < 2 * champion["holdout_rmse"]
    assert calm["drift"]["detected"] is False and calm["action"] == "none" and alerts == []
    assert 0.6 <= champion["coverage"] <= 1.0
    api.get("/monitoring")  # the API reads the monitor's figures (it also does so every refresh period)
    exported = api.get("/metrics").text
    assert f'mlts_live_rmse{{model="{MODEL}",role="champion",version="1"}} {champion["rmse"]}' in exported
    assert f'mlts_drift_detected{{kind="performance",model="{MODEL}"}} 0.0' in exported

    replay.run(api, 40)
    shifted = monitor_series(MODEL)
    performance = shifted["drift"]["performance"]
    assert shifted["drift"]["detected"] and performance["detected"]
    assert 150 <= performance["index"] < 150 + 20  # caught within 20 one-step errors of the shift
    assert abs(performance["change_index"] - 150) <= 3  # and placed where it happened
    # 24-point windows: the new model waits for 240 points of the new regime to learn from
    assert "retraining once 240 points since the change" in shifted["action"] and shifted["last_retrain"] is None
    kinds = [a["kind"] for a in alerts]
    assert kinds[0] == "drift" and set(kinds) <= {"drift", "coverage"} and all(a["model"] == MODEL for a in alerts)
    assert alerts[0]["action"] == shifted["action"] and "performance" in alerts[0]["seen"]
    sent = len(alerts)

    replay.run(api, 210)
    retrained = monitor_series(MODEL)
    retrain = retrained["last_retrain"]
    assert retrain["decision"] == "promoted" and "drift detected; retrained" in retrained["action"]
    client = registry.client(get_settings())
    run = client.get_run(retrain["run_id"])
    assert run.data.tags["mlts.trigger"] == "drift" and "performance" in run.data.tags["mlts.drift_evidence"]
    assert run.data.params["limit"] == "250"  # the points since the change
    old_rmse = retrained["roles"]["champion"]["rmse"] if retrained["roles"]["champion"]["version"] == "1" else None

    api.app.state.mlts.store.refresh()  # the API swaps the new champion in (it polls every 30 s by itself)
    replay.run(api, 60)
    again = monitor_series(MODEL)
    recovered = again["roles"]["champion"]
    assert recovered["version"] == retrain["version"] and recovered["n"] >= 50 * 3
    shifted_rmse = old_rmse or shifted["roles"]["champion"]["rmse"]
    assert recovered["rmse"] < 0.7 * shifted_rmse and again["drift"]["performance"]["detected"] is False
    assert len(alerts) == sent  # an alert when a condition starts, not again while it lasts

    page = api.get(f"/reports/{MODEL}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert text.count("<svg") == 3 and "retraining" in text and "alert (drift)" in text
    file = tmp_path / "report.html"
    file.write_text(text)
    colours, inked = browser.not_blank(browser.screenshot(file.as_uri(), tmp_path / "report.png"))
    assert colours > 20 and inked > 0.03, (colours, inked)
    assert api.get("/reports/nobody").status_code == 404

    live = api.get(f"/monitoring/{MODEL}").json()
    assert live["roles"]["champion"]["rmse"] == pytest.approx(again["roles"]["champion"]["rmse"])
    assert api.get("/model/info").json()["live"]["champion"]["n"] == again["roles"]["champion"]["n"]
    served = api.app.state.mlts.store.models[MODEL]  # serves the intervals recalibrated on its live errors
    assert again["intervals"]["version"] == served.version == retrain["version"]
    assert served.model.intervals.upper.tolist() == pytest.approx(again["intervals"]["upper"])
    version = again["roles"]["champion"]["version"]
    tags = client.get_model_version(MODEL, version).tags
    assert float(tags["mlts.live_rmse"]) == pytest.approx(again["roles"]["champion"]["rmse"])


@pytest.mark.parametrize("better", [True, False])
def test_a_challenger_better_on_live_data_is_promoted_and_a_worse_one_is_not(
    mongo_db, mlflow_store, make_client, better
) -> None:
    replay = Replay(mongo_db, _series())
    good = train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=24))
    poor = train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=24, epochs=2))
    assert (good["decision"], poor["decision"]) == ("promoted", "challenger")
    client = registry.client(get_settings())
    if better:  # the poor version serves and the good one waits behind it
        client.set_registered_model_alias(MODEL, "champion", poor["version"])
        client.set_registered_model_alias(MODEL, "challenger", good["version"])
    api = make_client()
    assert poll_until(lambda: MODEL in api.app.state.mlts.store.challengers, 10)

    replay.run(api, 80)
    found = monitor_series(MODEL)
    test = found["live_test"]
    champion = client.get_model_version_by_alias(MODEL, "champion")
    if better:
        assert test["p_value"] < 0.05 and str(champion.version) == good["version"]
        assert "on live evidence" in found["action"]
        assert (
            champion.tags["mlts.promoted_by"] == "live evidence" and "Diebold-Mariano" in champion.tags["mlts.reason"]
        )
    else:
        assert str(champion.version) == good["version"] and "live evidence" not in found["action"]


def test_a_calm_replay_as_long_as_the_shifted_one_raises_no_drift(mongo_db, mlflow_store, make_client) -> None:
    """The false-alarm side of the replay above: the same series without the shift, 450 points."""
    replay = Replay(mongo_db, _series())
    assert train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=24))["decision"] == "promoted"
    api = make_client(SHADOW_CHALLENGER="false")
    replay.run(api, 450)
    calm = monitor_series(MODEL)
    assert calm["roles"]["champion"]["n"] >= 440 * 3
    assert calm["drift"]["performance"]["detected"] is False and calm["drift"]["data"]["detected"] is False
    assert calm["action"] == "none" and calm["last_retrain"] is None


def test_forecasts_whose_actuals_have_not_arrived_yet_are_monitored_without_error(
    mongo_db, mlflow_store, make_client
) -> None:
    """Right after a demo: the API has logged forecasts, but none of their targets has come."""
    replay = Replay(mongo_db, _series())
    assert train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=24))["decision"] == "promoted"
    api = make_client(SHADOW_CHALLENGER="false")
    recent = replay.docs[TRAINED - HISTORY : TRAINED]
    data = [{"timestamp": d["timestamp"].isoformat(), "value": d["value"]} for d in recent]
    assert api.post("/predict", json={"data": data, "horizon": 3}).status_code == 200
    assert poll_until(lambda: mongo_db.mlts_predictions.count_documents({}) >= 1, 10)
    waiting = monitor_series(MODEL)
    assert waiting["roles"]["champion"]["n"] == 0
    assert waiting["intervals"] is None and waiting["action"] == "none"
    page = api.get(f"/reports/{MODEL}").text
    assert "No actual value has arrived yet for the champion's 3 logged forecasts" in page
    assert "<svg" not in page  # no empty charts


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"window_size": "24", "gaps": "fail", "max_gap_points": "None", "tune": "False"},
            {"window_size": "24", "gaps": "fail"},
        ),
        ({"window_size": "48", "tune": "True", "epochs": "500"}, {"window_size": "48", "tune": True}),
        ({}, {}),
    ],
    ids=["fixed window", "tuned", "no run"],
)
def test_a_drift_retraining_keeps_the_champions_window_gaps_and_tuning(params: dict, expected: dict) -> None:
    assert retrain_options(params) == expected
    assert TrainingConfig(collection="readings", **expected).tune is (expected.get("tune") is True)
