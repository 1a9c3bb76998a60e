"""The local stack `mlts up` leaves running under MLTS_HOME: the embedded MongoDB (unless
MONGODB_URL is set), an MLflow tracking server with its UI on the local store, a Prefect server
with its UI (and the scheduler service that makes cron schedules fire), and the API.

Each service is a detached child in its own session, recorded in `MLTS_HOME/stack/<name>.json`
(pid, URL, log). Every later command finds them there (`core.bootstrap` points MLflow and Prefect
at them when no URL is configured), `mlts status` asks each whether it answers, and `mlts down`
stops them by their recorded pid, nothing else.
"""

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from core.embedded_mongo import answers_ping, ensure_local_server, local_server, stop_local_server
from core.processes import Child, StateFile, free_port, http_ok, poll_until, port_open
from core.settings import Settings
from core.sqlite_store import use_wal

SERVICES = ("mongo", "mlflow", "prefect", "api")
PREFERRED_PORTS = {"mlflow": 5000, "prefect": 4200, "api": 8000}
_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Service:
    name: str
    url: str | None
    pid: int | None
    answers: bool
    log: str | None = None

    @property
    def ui(self) -> str | None:
        """Where a person looks: the UI (the API's docs), not the API endpoint."""
        if self.url is None or self.name == "mongo":
            return None
        return self.url + {"api": "/docs", "prefect": "", "mlflow": ""}[self.name]


def record(home: Path, name: str) -> StateFile:
    return StateFile(Path(home).resolve() / "stack" / f"{name}.json")


def recorded(home: Path, name: str) -> dict | None:
    """The record of a stack service that runs (pid, url, log, what it serves); None otherwise."""
    return record(home, name).read()


def _health_url(name: str, url: str) -> str:
    return url + {"mlflow": "/health", "prefect": "/api/health", "api": "/health"}[name]


def _port(host: str, preferred: int) -> int:
    return free_port() if port_open(host, preferred) else preferred


def fingerprint(settings: Settings) -> str:
    """Which data and registry a process works on: a command may hand work to a stack service
    (the API trains for `mlts train`) only when both work on the same."""
    mongo = hashlib.sha256((settings.mongo_url or "embedded").encode()).hexdigest()[:16]
    return f"{mongo}/{settings.mongodb_database}/{settings.tracking_uri}"


def _command(
    name: str, settings: Settings, host: str, port: int, workers: int
) -> tuple[list[str], dict[str, str | None]]:
    home = settings.home.resolve()
    if name == "mlflow":
        # Artifacts stay plain files under MLTS_HOME, so runs logged through the server still
        # load when it is down (the commands then use the SQLite store directly).
        use_wal(home / "mlflow.db")
        command = [
            str(_BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{home / 'mlflow.db'}",
            "--default-artifact-root",
            settings.artifact_root.as_uri(),
            "--no-serve-artifacts",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            "1",
        ]
        return command, {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    if name == "prefect":
        command = [str(_BIN / "prefect"), "server", "start", "--host", host, "--port", str(port), "--analytics-off"]
        environment = {
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "true",
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "10",
            "PREFECT_API_URL": None,
        }
        return command, environment
    # The stack's API trains for `mlts train`: it imports the training stack at start, not at the first run.
    command = [str(_BIN / "mlts"), "serve", "--host", host, "--port", str(port), "--workers", str(workers)]
    return command, {"PRELOAD_TRAINING": "true"}


def start(
    settings: Settings,
    name: str,
    host: str = "127.0.0.1",
    port: int | None = None,
    workers: int = 1,
    timeout: float = 120.0,
) -> Service:
    """Start one service in the background (or find it running) and wait until it answers: the
    preferred port (`port`, else MLflow's 5000, Prefect's 4200, the API's PORT) or a free one."""
    if name == "mongo":
        url = ensure_local_server(settings.home)
        state = local_server(settings.home) or {}
        return Service("mongo", url, state.get("pid"), True, state.get("log"))
    state_file = record(settings.home, name)
    with state_file.locked():
        state = state_file.read()
        if state is None:
            port = _port(host, port or (settings.port if name == "api" else PREFERRED_PORTS[name]))
            url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
            command, environment = _command(name, settings, host, port, workers)
            log = state_file.path.with_suffix(".log")
            child = Child.spawn(command, f"the {name} server", log, env=environment)
            state = {"pid": child.pid, "url": url, "log": str(log), "serves": fingerprint(settings)}
            state_file.write(state)
            try:
                child.wait_until(lambda: http_ok(_health_url(name, url), 2.0), timeout, "an answer to its health check")
                if name == "api":  # it trains for `mlts train`: back when the training stack is loaded
                    child.wait_until(lambda: _training_ready(url), timeout, "the training stack loaded")
            except RuntimeError:
                state_file.remove()
                raise
    return Service(name, state["url"], state["pid"], True, state.get("log"))


def _training_ready(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=2.0).json().get("training") == "ready"
    except (httpx.HTTPError, ValueError):
        return False


def stop(settings: Settings, name: str) -> bool:
    if name == "mongo":
        return stop_local_server(settings.home)
    return record(settings.home, name).stop()


def status(settings: Settings) -> list[Service]:
    """Each service of the stack: where it is, its pid, and whether it answers now."""
    found = []
    for name in SERVICES:
        if name == "mongo":
            state = local_server(settings.home)
            answers = state is not None and answers_ping(state["url"], 1000)
        else:
            state = record(settings.home, name).read()
            answers = state is not None and http_ok(_health_url(name, state["url"]), 2.0)
        state = state or {}
        found.append(Service(name, state.get("url"), state.get("pid"), answers, state.get("log")))
    return found


def wait_until_serving(api_url: str, models: int, timeout: float) -> bool:
    """Until the API serves at least `models` models (it polls the registry on its own clock)."""

    import httpx

    def serving() -> bool:
        try:
            answer = httpx.get(f"{api_url}/ready", timeout=2.0)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200 and answer.json().get("models", 0) >= models

    return poll_until(serving, timeout)
