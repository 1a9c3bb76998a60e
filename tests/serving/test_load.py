"""The load test, run small: concurrent clients on a real `mlts serve` while the alias moves twice."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.loadtest import body_for, move_alias_during, run
from core.embedded_mongo import free_port
from pipelines.flows import train_series
from tests.serving.conftest import FILTER_S1, MODEL_S1


def test_no_failed_request_while_the_alias_moves_twice(champion, mongo_db, mongo_url, mlflow_store, tmp_path) -> None:
    assert train_series(collection="readings", filter=FILTER_S1, window_size=12, epochs=1)["decision"] == "challenger"
    port = free_port()
    env = {**os.environ, "MONGODB_URL": mongo_url, "MONGODB_DATABASE": mongo_db.name, "MLFLOW_TRACKING_URI": mlflow_store,
           "PORT": str(port), "MODEL_REFRESH_SECONDS": "0.3", "MODEL_NAME": MODEL_S1}  # fmt: skip
    log = (tmp_path / "api.log").open("w")
    server = subprocess.Popen([str(Path(sys.executable).parent / "mlts"), "serve", "--host", "127.0.0.1", "--no-access-log"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        report = run(f"http://127.0.0.1:{port}", body_for(12), clients=16, requests=6000,
                     during=move_alias_during(MODEL_S1, ["2", "1"], every=1.0))  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
    print(report.summary())
    assert report.errors == 0, report.statuses
    assert set(report.versions) == {"1", "2"}, report.versions
