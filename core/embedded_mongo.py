"""The embedded MongoDB: nx-27017 (a MongoDB wire-protocol server on SQLite) as a child process.

It stands in for `mongod` where none can be installed: the tests and the zero-config local
default. Everything else only ever sees its `mongodb://` URL and talks to it with pymongo.
"""

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

STATE_FILE = "server.json"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class EmbeddedMongo:
    """One nx-27017 process on a loopback port, its data in `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1"):
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}/"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / "server.log"

    def start(self, timeout: float = 30.0, detach: bool = False) -> "EmbeddedMongo":
        """Start the server and wait until it answers a ping. A detached server outlives this
        process (the CLI's background server); an attached one is stopped with it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-c", "from nx_27017 import main; main()",
            "--data-dir", str(self.data_dir),
            "--host", self.host,
            "--port", str(self.port),
            "--log-file", os.devnull,  # its console output goes to log_path already
            "--pid-file", str(self.data_dir.parent / f"server-{self.port}.pid"),
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=detach
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the embedded MongoDB server exited with code {self.process.returncode}; see {self.log_path}"
                )
            if answers_ping(self.url, timeout_ms=500):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the embedded MongoDB server did not answer within {timeout:.0f}s; see {self.log_path}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
        (self.data_dir.parent / f"server-{self.port}.pid").unlink(missing_ok=True)

    def __enter__(self) -> "EmbeddedMongo":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def answers_ping(url: str, timeout_ms: int = 1000) -> bool:
    try:
        with MongoClient(url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms) as client:
            client.admin.command("ping")
        return True
    except PyMongoError:
        return False


# The background server shared by the CLI's local commands, recorded under MLTS_HOME/mongo.


def _mongo_home(home: Path) -> Path:
    return Path(home).resolve() / "mongo"


@contextmanager
def _state_lock(home: Path) -> Iterator[Path]:
    folder = _mongo_home(home)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def local_server(home: Path) -> dict | None:
    """The background server's state (`url`, `pid`, `port`) if it is running and answers."""
    state_path = _mongo_home(home) / STATE_FILE
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        return None
    if not _alive(state.get("pid")) or not answers_ping(state["url"]):
        return None
    return state


def ensure_local_server(home: Path) -> str:
    """The URL of the background server for this MLTS_HOME, starting it if needed."""
    with _state_lock(home) as folder:
        state = local_server(home)
        if state is not None:
            return state["url"]
        for stale in folder.glob("server-*.pid"):
            stale.unlink()
        server = EmbeddedMongo(folder / "data").start(detach=True)
        state = {"url": server.url, "pid": server.process.pid, "port": server.port}
        (folder / STATE_FILE).write_text(json.dumps(state))
        return server.url


def stop_local_server(home: Path, timeout: float = 10.0) -> bool:
    """Stop the background server; False when none was running."""
    with _state_lock(home) as folder:
        state = local_server(home)
        (folder / STATE_FILE).unlink(missing_ok=True)
        if state is None:
            return False
        (folder / f"server-{state['port']}.pid").unlink(missing_ok=True)
        os.kill(state["pid"], signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(state["pid"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(state["pid"]):
            os.kill(state["pid"], signal.SIGKILL)
        return True


def _alive(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
