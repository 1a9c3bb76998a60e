"""The production configuration for real: the exact commands the compose services run (`mlflow
server` and `prefect server start` on PostgreSQL, `mlts serve`, `mlts schedule`), started here
against the PostgreSQL server at 127.0.0.1:5432, each in a database created for the test and
dropped after it, with a training flow run end to end through them."""

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from core.processes import Child, free_port, poll_until

ROOT = Path(__file__).resolve().parents[2]
SERVICES = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
PG = os.environ.get("MLTS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _postgres_or_skip():
    try:
        import psycopg2

        connection = psycopg2.connect(f"{PG}/postgres", connect_timeout=3)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no PostgreSQL answers at {PG} ({type(exc).__name__}); the production-stack tests need one")
    connection.autocommit = True
    return connection


@pytest.fixture(scope="module")
def postgres() -> Iterator[callable]:
    """Creates databases on the real server; drops them all at the end."""
    connection = _postgres_or_skip()
    created: list[str] = []

    def database(prefix: str) -> str:
        name = f"mlts_{prefix}_{uuid.uuid4().hex[:8]}"
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"{PG}/{name}"

    yield database
    with connection.cursor() as cursor:
        for name in created:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


def _command(service: str, replace: dict[str, str] | None = None) -> list[str]:
    """The service's command as compose runs it (`$$` is compose's escape for `$`)."""
    parts = [part.replace("$$", "$") for part in SERVICES[service]["command"]]
    for old, new in (replace or {}).items():
        parts = [part.replace(old, new) for part in parts]
    return parts


def _default(value: str) -> str:
    """A compose value as compose fills it in with nothing set: `${NAME:-default}` is the default."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def _start(command: list[str], env: dict[str, str], log: Path) -> Child:
    return Child.spawn(command, command[0], log, env={**env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"})


@pytest.fixture(scope="module")
def servers(postgres, tmp_path_factory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("stack")
    mlflow_port, prefect_port = free_port(), free_port()
    mlflow_env = {
        **{name: _default(value) for name, value in SERVICES["mlflow"]["environment"].items()},
        "MLFLOW_BACKEND_STORE_URI": postgres("mlflow"),
        "MLFLOW_ARTIFACTS_DESTINATION": str(folder / "mlartifacts"),
        "MLFLOW_PORT": str(mlflow_port),
        "MLFLOW_ALLOWED_HOSTS": f"127.0.0.1:{mlflow_port},localhost:{mlflow_port}",
    }
    prefect_env = {
        **SERVICES["prefect"]["environment"],
        "PREFECT_API_DATABASE_CONNECTION_URL": postgres("prefect").replace("postgresql://", "postgresql+asyncpg://"),
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(prefect_port),
        "PREFECT_HOME": str(folder / "prefect-server"),
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{prefect_port}/api",
    }
    prefect_env.pop("PREFECT_API_URL", None)
    processes = [
        _start(_command("mlflow"), mlflow_env, folder / "mlflow.log"),
        _start(_command("prefect"), {k: v for k, v in prefect_env.items()}, folder / "prefect.log"),
    ]
    try:
        processes[0].wait_http(f"http://127.0.0.1:{mlflow_port}/health", timeout=120)
        processes[1].wait_http(f"http://127.0.0.1:{prefect_port}/api/health", timeout=120)
        yield {
            "mlflow": f"http://127.0.0.1:{mlflow_port}",
            "prefect": f"http://127.0.0.1:{prefect_port}/api",
            "folder": str(folder),
        }
    finally:
        for process in processes:
            process.stop()


def _mlts_env(servers: dict[str, str], mongo_url: str, database: str, home: Path, **extra: str) -> dict[str, str]:
    """The environment compose gives the mlts services, pointed at the servers started here."""
    env = {k: v for k, v in SERVICES["api"]["environment"].items() if "${" not in v}
    env.update(
        MONGODB_URL=mongo_url,
        MONGODB_DATABASE=database,
        MLFLOW_TRACKING_URI=servers["mlflow"],
        PREFECT_API_URL=servers["prefect"],
        MLTS_HOME=str(home),
        ENVIRONMENT="production",
        API_KEY="stack-test-key",
        PREFECT_HOME=str(home / "prefect"),
        **extra,
    )
    env.pop("MLFLOW_UI_URL", None)
    return env


def test_training_flow_end_to_end_through_mlflow_and_prefect_servers(
    servers, mongo_db, mongo_url, seed_series, tmp_path
) -> None:
    seed_series(sensor="s1")
    env = _mlts_env(servers, mongo_url, mongo_db.name, tmp_path / "home")
    done = subprocess.run(
        [
            str(BIN / "mlts"),
            "train",
            "--collection",
            "readings",
            "--filter",
            "additional_features.sensor_id=s1",
            "--window-size",
            "12",
            "--json",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    from mlflow import MlflowClient

    from core import registry

    client = MlflowClient(servers["mlflow"], registry_uri=servers["mlflow"])
    name = "readings.value.sensor_id-s1"
    version = client.get_model_version_by_alias(name, "champion")
    model = registry.load_version(client, version)  # artifacts proxied by the server
    assert model.window_size == 12
    run = client.get_run(version.run_id)
    assert run.data.params["collection"] == "readings" and "stack-test-key" not in str(run.data.params)

    flow_runs = httpx.post(f"{servers['prefect']}/flow_runs/filter", json={"limit": 20}).json()
    states = {(r["name"], r["state"]["type"]) for r in flow_runs}
    assert (f"{name} w12", "COMPLETED") in states, states

    # A tuning logs its candidates' child runs to the server several at a time, and MLflow's
    # per-run links stay off stdout, which holds only the JSON.
    tuned = subprocess.run(
        [str(BIN / "mlts"), "tune", "--collection", "readings", "--filter", "additional_features.sensor_id=s1"]
        + ["--json"],
        env={k: v for k, v in {**os.environ, **env}.items() if k != "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    outcome = json.loads(tuned.stdout)
    scored = int(client.get_run(outcome["run_id"]).data.params["tune_candidates"].split(" of ")[0])
    children = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{outcome['run_id']}'", max_results=500
    )
    assert len(children) == scored >= 5 and all(c.info.status == "FINISHED" for c in children)


def test_api_and_scheduler_commands_serve_against_the_stack(
    servers, mongo_db, mongo_url, seed_series, tmp_path
) -> None:
    seed_series(sensor="s2")
    config = tmp_path / "series.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "series": [
                    {"collection": "readings", "filter": {"additional_features.sensor_id": "s2"}, "window_size": 12}
                ]
            }
        )
    )
    port = free_port()
    api_env = _mlts_env(servers, mongo_url, mongo_db.name, tmp_path / "api", PORT=str(port), MODEL_REFRESH_SECONDS="1")
    scheduler_env = _mlts_env(
        servers,
        mongo_url,
        mongo_db.name,
        tmp_path / "scheduler",
        RETRAIN_CRON="0 3 * * *",
        PREFECT_RUNNER_POLL_FREQUENCY="1",
    )
    api = _start(_command("api"), api_env, tmp_path / "api.log")
    scheduler = _start(
        _command("scheduler", {"/app/series.yaml": str(config)}), scheduler_env, tmp_path / "scheduler.log"
    )
    try:
        api.wait_api(f"http://127.0.0.1:{port}", timeout=120)
        deployment_url = f"{servers['prefect']}/deployments/name/retrain-all/scheduled-retraining"
        scheduler.wait_http(deployment_url, timeout=120)
        deployment = httpx.get(deployment_url).json()
        assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 3 * * *"]

        # Run the scheduled deployment now, as its cron would: the served scheduler executes it.
        created = httpx.post(f"{servers['prefect']}/deployments/{deployment['id']}/create_flow_run", json={}).json()
        deadline, state = time.monotonic() + 240, None
        while time.monotonic() < deadline:
            state = httpx.get(f"{servers['prefect']}/flow_runs/{created['id']}").json()["state"]["type"]
            if state in ("COMPLETED", "FAILED", "CRASHED"):
                break
            time.sleep(1)
        assert state == "COMPLETED", (tmp_path / "scheduler.log").read_text()[-3000:]

        api.wait_http(f"http://127.0.0.1:{port}/ready", timeout=30)
        wanted = {"name": "readings.value.sensor_id-s2", "version": "1"}

        def served() -> bool:  # within a few of the API's 1 s refreshes
            return wanted in httpx.get(f"http://127.0.0.1:{port}/health").json()["models"]

        assert poll_until(served, 30), httpx.get(f"http://127.0.0.1:{port}/health").json()
        points = [{"timestamp": i * 3_600_000, "value": float(i % 7)} for i in range(12)]
        assert httpx.post(f"http://127.0.0.1:{port}/predict", json={"data": points}).status_code == 200
        train = httpx.post(f"http://127.0.0.1:{port}/train", json={"collection_name": "readings"})
        assert train.status_code == 401
    finally:
        api.stop()
        scheduler.stop()
