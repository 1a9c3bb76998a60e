"""The load test, run small: concurrent clients on a real `mlts serve` while the alias moves twice."""

import httpx

from bench.loadtest import body_for, move_alias_during, run
from core.processes import poll_until
from core.training_config import TrainingConfig
from pipelines.flows import train_series
from tests.serving.conftest import FILTER_S1, MODEL_S1


def test_no_failed_request_while_the_alias_moves_twice(champion, start_api) -> None:
    challenger = train_series(TrainingConfig(collection="readings", filter=FILTER_S1, window_size=12, epochs=1))
    assert challenger["decision"] == "challenger"
    base, _ = start_api("--no-access-log", MODEL_REFRESH_SECONDS="0.3", MODEL_NAME=MODEL_S1)
    poll_until(lambda: httpx.get(f"{base}/ready", timeout=1).status_code == 200, 30)
    report = run(
        base, body_for(12), clients=16, requests=6000, during=move_alias_during(MODEL_S1, ["2", "1"], every=1.0)
    )
    print(report.summary())
    assert report.errors == 0, report.statuses
    assert set(report.versions) == {"1", "2"}, report.versions
