"""The embedded MongoDB: nx-27017 (a MongoDB wire-protocol server on SQLite) as a child process.

It stands in for `mongod` where none can be installed: the tests and the zero-config local
default. Everything else only ever sees its `mongodb://` URL and talks to it with pymongo.
"""

import sys
from pathlib import Path

from core.processes import Child, StateFile, free_port

STATE_FILE = "server.json"


class EmbeddedMongo:
    """One nx-27017 process on a loopback port, its data in `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1"):
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port or free_port(host)
        self.child: Child | None = None

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}/"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / "server.log"

    @property
    def pid_file(self) -> Path:
        return self.data_dir.parent / f"server-{self.port}.pid"

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child else None

    def start(self, timeout: float = 30.0) -> "EmbeddedMongo":
        """Start the server and wait until it answers a ping."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-c",
            "from nx_27017 import main; main()",
            "--data-dir",
            str(self.data_dir),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--log-file",
            "/dev/null",  # its console output goes to log_path already
            "--pid-file",
            str(self.pid_file),  # one per port: its default is shared, and refuses a second server
        ]
        self.child = Child.spawn(command, "the embedded MongoDB server", self.log_path)
        self.child.wait_until(lambda: answers_ping(self.url, timeout_ms=500), timeout, "an answer to ping")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.child is not None:
            self.child.stop(timeout)
            self.pid_file.unlink(missing_ok=True)

    def __enter__(self) -> "EmbeddedMongo":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def answers_ping(url: str, timeout_ms: int = 1000) -> bool:
    from pymongo import MongoClient  # here, so a CLI that never pings does not load pymongo
    from pymongo.errors import PyMongoError

    try:
        with MongoClient(url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms) as client:
            client.admin.command("ping")
        return True
    except PyMongoError:
        return False


# The background server shared by the CLI's local commands, recorded under MLTS_HOME/mongo.


def _state(home: Path) -> StateFile:
    return StateFile(Path(home).resolve() / "mongo" / STATE_FILE)


def local_server(home: Path) -> dict | None:
    """The background server's state (`url`, `pid`, `port`) if it is running and answers."""
    state = _state(home).read()
    if state is None or not answers_ping(state["url"]):
        return None
    return state


def ensure_local_server(home: Path) -> str:
    """The URL of the background server for this MLTS_HOME, starting it if needed. It outlives
    this process on purpose (later commands reuse it); `mlts mongo --stop` or `mlts down` stop it."""
    state_file = _state(home)
    with state_file.locked():
        state = local_server(home)
        if state is not None:
            return state["url"]
        server = EmbeddedMongo(state_file.path.parent / "data").start()
        state_file.write({"url": server.url, "pid": server.pid, "port": server.port, "log": str(server.log_path)})
        return server.url


def stop_local_server(home: Path, timeout: float = 10.0) -> bool:
    """Stop the background server; False when none was running."""
    return _state(home).stop(timeout)
