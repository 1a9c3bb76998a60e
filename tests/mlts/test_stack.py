"""`mlts up`, `status`, `train`, `schedule` and `down` as a person runs them, each a process of
its own (as from a shell): the services start in the background, later commands find them with
no variable set, a cron schedule fires by itself, and `mlts down` leaves nothing running."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from core.processes import Child, alive, poll_until

pytestmark = pytest.mark.slow
MLTS = str(Path(sys.executable).parent / "mlts")
MODEL = "readings.value.sensor_id-s1"


@pytest.fixture
def shell(mongo_db, mongo_url, tmp_path: Path):
    """The environment of a person's shell: MLTS_HOME and MONGODB_URL, nothing else of mlts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_", "MLTS_", "MPL"))}
    env.update(MLTS_HOME=str(tmp_path / "home"), MONGODB_URL=mongo_url, MONGODB_DATABASE=mongo_db.name)
    env["MLTS_TEST_SESSION"] = os.environ["MLTS_TEST_SESSION"]

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([MLTS, *args], env=env, capture_output=True, text=True, timeout=timeout)

    # for Child.spawn, which adds to this process's environment: take out what the shell lacks
    run.env = {**{name: None for name in os.environ if name not in env}, **env}
    yield run
    run("down", timeout=120)


def _state(home: Path, name: str) -> dict:
    return json.loads((home / "stack" / f"{name}.json").read_text())


def test_up_train_schedule_down(shell, seed_series, tmp_path: Path) -> None:
    seed_series(sensor="s1")
    home = tmp_path / "home"
    up = shell("up")
    assert up.returncode == 0, up.stdout + up.stderr
    for name in ("mlflow", "prefect", "api"):
        assert _state(home, name)["url"] in up.stdout
    status = shell("status")
    assert status.returncode == 0 and status.stdout.count("yes") == 3, status.stdout
    with sqlite3.connect(home / "mlflow.db") as store:  # set before the MLflow server opened it
        assert store.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    started = time.monotonic()
    trained = shell(
        "train",
        "--collection",
        "readings",
        "--filter",
        "additional_features.sensor_id=s1",
        "--window-size",
        "12",
        "--json",
    )
    wall = time.monotonic() - started
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "training through the API" in trained.stdout
    print(f"mlts train with the stack up: {wall:.1f} s")

    from mlflow import MlflowClient

    mlflow_url, prefect_api = _state(home, "mlflow")["url"], _state(home, "prefect")["url"] + "/api"
    client = MlflowClient(mlflow_url, registry_uri=mlflow_url)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert client.get_run(champion.run_id).data.tags["mlts.trigger"] == "manual"
    runs = httpx.post(f"{prefect_api}/flow_runs/filter", json={"limit": 50}).json()
    assert any(r["name"] == f"{MODEL} w12" and r["state"]["type"] == "COMPLETED" for r in runs)

    config = tmp_path / "series.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "series": [
                    {"collection": "readings", "window_size": 12, "filter": {"additional_features.sensor_id": "s1"}}
                ]
            }
        )
    )
    command = [MLTS, "schedule", "--cron", "* * * * *", "--config", str(config)]
    with Child.spawn(command, "mlts schedule", tmp_path / "schedule.log", env=shell.env) as scheduler:

        def scheduled_run_completed() -> bool:
            completed = {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}, "limit": 50}
            flow_runs = httpx.post(f"{prefect_api}/flow_runs/filter", json=completed).json()
            # auto_scheduled: created by the server's scheduler from the cron, not by a person
            return any(r["auto_scheduled"] for r in flow_runs)

        fired = poll_until(scheduled_run_completed, 180, longest=2.0)
        assert fired, scheduler.log_tail()
        log = scheduler.log_tail(20_000)
    assert f"registered {MODEL} version 2" in log  # the scheduled retraining registered another version
    assert client.get_run(client.get_model_version(MODEL, "2").run_id).data.tags["mlts.trigger"] == "schedule"

    pids = [_state(home, name)["pid"] for name in ("mlflow", "prefect", "api")]
    down = shell("down")
    assert down.returncode == 0 and "stopped" in down.stdout
    assert poll_until(lambda: not any(alive(pid) for pid in pids), 30)
    assert shell("status").stdout.count("not running") == 4
