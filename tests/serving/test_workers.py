"""`mlts serve --workers 2`: one set of figures on /metrics whichever worker answers, and every
worker follows the alias."""

import re
import time
from pathlib import Path

import httpx

from bench.loadtest import body_for
from core import registry
from core.processes import poll_until
from core.settings import get_settings
from core.training_config import TrainingConfig
from pipelines.flows import train_series
from tests.serving.conftest import FILTER_S1, MODEL_S1

PREDICTIONS = re.compile(r'^mlts_predictions_total\{model="[^"]+",version="(\d+)"\} (\S+)$', re.M)


def _predict(base: str, count: int) -> list[str]:
    """`count` forecasts, each on a new connection so the workers share them; their versions."""
    body = body_for(12)
    versions = []
    for _ in range(count):
        answer = httpx.post(f"{base}/predict", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 200, answer.text
        versions.append(answer.json()["model"]["version"])
    return versions


def _counted(base: str) -> dict[str, float]:
    text = httpx.get(f"{base}/metrics").text
    return {version: float(value) for version, value in PREDICTIONS.findall(text)}


def test_two_workers_count_as_one_and_both_follow_the_alias(champion, start_api, mlflow_store) -> None:
    base, _ = start_api("--workers", "2", "--no-access-log", MODEL_REFRESH_SECONDS="1", MODEL_NAME=MODEL_S1)
    assert poll_until(lambda: httpx.get(f"{base}/ready").status_code == 200, 30)
    folder = Path(get_settings().home) / "serving" / f"metrics-{base.rsplit(':', 1)[1]}"

    def workers_counted() -> set[str]:
        return {path.stem.rsplit("_", 1)[1] for path in folder.glob("counter_*.db")}

    sent = 0
    while len(workers_counted()) < 2 and sent < 400:  # until both workers have answered some
        sent += len(_predict(base, 20))
    assert len(workers_counted()) == 2, f"one worker took all {sent} requests"
    for _ in range(6):  # whichever worker answers /metrics, it counts everyone's forecasts
        assert _counted(base) == {"1": sent}

    worse = train_series(TrainingConfig(collection="readings", filter=FILTER_S1, window_size=12, epochs=1))
    assert worse["decision"] == "challenger"
    registry.client(get_settings()).set_registered_model_alias(MODEL_S1, get_settings().model_alias, worse["version"])
    time.sleep(2.5)  # one refresh period (1 s), twice over, plus a load
    assert set(_predict(base, 40)) == {worse["version"]}
    assert _counted(base) == {"1": sent, worse["version"]: 40}
