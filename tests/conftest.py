"""Shared fixtures: the real services the tests talk to.

`mongo_url` starts nx-27017 on a free loopback port for the session, or uses MONGODB_URL when
it is set (a real mongod or Atlas), in which case every test database is created fresh and
dropped afterwards. Nothing here mocks MongoDB, MLflow or Prefect.
"""

import atexit
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

# Local state of the whole test session, away from ./.mlts; set before any settings are read.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="mlts-test-home-"))
atexit.register(shutil.rmtree, _SESSION_HOME, ignore_errors=True)  # registered first, so it runs last
os.environ["MLTS_HOME"] = str(_SESSION_HOME)
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.setdefault("ENVIRONMENT", "test")
# Every process the tests start inherits this mark, orphans included: what still carries it when
# the run ends was left behind (see pytest_sessionfinish).
SESSION_MARK = f"mlts-test-{uuid.uuid4().hex}"
os.environ["MLTS_TEST_SESSION"] = SESSION_MARK

from core.bootstrap import bootstrap  # noqa: E402
from core.embedded_mongo import EmbeddedMongo  # noqa: E402
from core.mongo import connect  # noqa: E402
from core.processes import Child, alive, free_port, poll_until, stop_pid  # noqa: E402
from core.settings import get_settings  # noqa: E402

bootstrap(serving=True)
# Prefect logs the stop of its temporary server at exit, after pytest has closed the streams.
logging.raiseExceptions = False

_EXTERNAL_MONGO = os.environ.get("MONGODB_URL") or os.environ.get("MLTS_MONGODB_URL")


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedMongo | None]:
    """The embedded server of this session; None when MONGODB_URL points at a real one."""
    if _EXTERNAL_MONGO:
        yield None
        return
    server = EmbeddedMongo(tmp_path_factory.mktemp("mongo") / "data").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongo_url(mongo_server: EmbeddedMongo | None) -> str:
    return _EXTERNAL_MONGO or mongo_server.url


@pytest.fixture
def mongo_db_name() -> str:
    return f"mlts_test_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def mongo_db(mongo_url: str, mongo_db_name: str, monkeypatch: pytest.MonkeyPatch):
    """A fresh database on the session's server; the settings point at it for the test."""
    monkeypatch.setenv("MONGODB_URL", mongo_url)
    monkeypatch.setenv("MONGODB_DATABASE", mongo_db_name)
    get_settings.cache_clear()
    client = connect(mongo_url)
    yield client[mongo_db_name]
    client.drop_database(mongo_db_name)
    client.close()
    get_settings.cache_clear()


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty MLTS_HOME for tests that check what lands in it."""
    home = tmp_path / "home"
    monkeypatch.setenv("MLTS_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh MLflow tracking and registry store (SQLite) with its artifacts under a temp
    MLTS_HOME; the settings point at it for the test. Returns the tracking URI."""
    home = tmp_path / "mlts-home"
    home.mkdir()
    uri = f"sqlite:///{home / 'mlflow.db'}"
    monkeypatch.setenv("MLTS_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    get_settings.cache_clear()
    yield uri
    get_settings.cache_clear()


@pytest.fixture
def seed_series(mongo_db):
    """Write a series into a collection of the test database and return its documents."""
    from tests.series_data import daily_series, documents

    def seed(collection: str = "readings", values=None, sensor: str = "s1", **kwargs) -> list[dict]:
        docs = documents(daily_series() if values is None else values, sensor, **kwargs)
        mongo_db[collection].insert_many([dict(d) for d in docs], ordered=False)
        return docs

    return seed


@pytest.fixture
def start_api(mongo_db, mongo_url, mlflow_store, tmp_path: Path) -> Iterator[Callable[..., tuple[str, float]]]:
    """`mlts serve` as a user starts it, on this test's database and MLflow store, with more
    options and settings if given; stopped (with all it started) when the test ends. Returns its
    URL and the seconds it took to answer /health."""
    children: list[Child] = []

    def start(*options: str, **env: str) -> tuple[str, float]:
        port = int(env.get("PORT") or free_port())
        environment = {
            "MONGODB_URL": mongo_url,
            "MONGODB_DATABASE": mongo_db.name,
            "MLFLOW_TRACKING_URI": mlflow_store,
            "PORT": str(port),
            **env,
        }
        command = [str(Path(sys.executable).parent / "mlts"), "serve", "--host", "127.0.0.1", *options]
        started = time.monotonic()
        child = Child.spawn(command, "mlts serve", tmp_path / f"api-{port}.log", env=environment)
        children.append(child)
        base = f"http://127.0.0.1:{port}"
        child.wait_api(base, timeout=60)
        return base, time.monotonic() - started

    start.children = children
    yield start
    for child in children:
        child.stop()


@pytest.fixture
def make_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., "TestClient"]]:
    """Start the app (lifespan included) with extra settings from the environment."""
    from fastapi.testclient import TestClient

    from serving.app import create_app

    clients: list[TestClient] = []

    def make(**env: str) -> TestClient:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        client = TestClient(create_app(get_settings()), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        _wait_loaded(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
    get_settings.cache_clear()


def _wait_loaded(client: "TestClient", timeout: float = 20.0) -> None:
    """The first registry read runs in the background at startup; wait for its outcome."""
    store = client.app.state.mlts.store
    poll_until(lambda: store.registry_reachable is not None, timeout)


def _marked_processes() -> dict[int, str]:
    """Live processes started by this test session (they carry its mark), but this one and its
    multiprocessing resource tracker (Dask's LocalCluster starts it; it ends with this process)."""
    found = {}
    needle = f"MLTS_TEST_SESSION={SESSION_MARK}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0") and alive(int(entry.name)):
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if "multiprocessing.resource_tracker" not in command:
                    found[int(entry.name)] = command
        except OSError:
            continue
    return found


_FIRST_SEEN: dict[int, str] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    """Remember after which test each marked process was first seen, so a leak names its test."""
    yield
    for pid in _marked_processes():
        _FIRST_SEEN.setdefault(pid, item.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test left a process behind, naming each (and stop them)."""
    try:
        from prefect.server.api.server import SubprocessASGIServer

        for server in list(SubprocessASGIServer._instances.values()):  # this process's own, stopped at exit anyway
            server.stop()
    except ImportError:
        pass
    left = _marked_processes()
    if not left:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [
        f"  pid {pid} (first seen after {_FIRST_SEEN.get(pid, 'the last test')}): {command[:300]}"
        for pid, command in sorted(left.items())
    ]
    message = "processes left running by the tests (now stopped):\n" + "\n".join(lines)
    if reporter is not None:
        reporter.write_line(message, red=True)
    for pid in left:
        stop_pid(pid, timeout=5, group=False)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
