"""The child processes mlts starts (the embedded MongoDB, a background API, the servers of a
local stack, the servers tests and benchmarks start): spawn one, wait until it answers, stop its
whole process group, and tell whether a recorded pid still runs.

Every child gets its own process group, so stopping it also stops what it started (uvicorn's
workers, Prefect's temporary server). A detached child outlives its parent and is recorded in a
state file under MLTS_HOME, which is all a later command needs to find or stop it.
"""

import fcntl
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Something accepts connections there (whoever it is)."""
    probe = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((probe, port)) == 0


def alive(pid: object) -> bool:
    """Whether `pid` runs; a zombie (exited, not yet reaped by its parent) does not."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def poll_until(check: Callable[[], bool], timeout: float, first: float = 0.02, longest: float = 0.5) -> bool:
    """Call `check` until it is true or `timeout` passes, backing off between calls."""
    deadline = time.monotonic() + timeout
    pause = first
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
        pause = min(pause * 1.5, longest)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    import httpx  # here, not at the top: `mlts serve` would import it before its first answer

    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def api_up(base_url: str, timeout: float = 1.0) -> bool:
    """The mlts API runs its app: /health answers 200 and no longer says "starting", as it does
    while its code loads (serving/starting.py)."""
    import httpx

    try:
        answer = httpx.get(f"{base_url}/health", timeout=timeout)
        return answer.status_code == 200 and answer.json().get("status") != "starting"
    except (httpx.HTTPError, ValueError):
        return False


def stop_group(pgid: int, timeout: float = 15.0) -> None:
    """SIGTERM what is left in a process group whose leader has exited, SIGKILL it after `timeout`."""

    def empty() -> bool:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return True
        return False

    for sig in (signal.SIGTERM, signal.SIGKILL):
        if empty():
            return
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
        if poll_until(empty, timeout if sig == signal.SIGTERM else 5.0):
            return


def stop_pid(pid: int, timeout: float = 15.0, group: bool = True) -> bool:
    """SIGTERM the process (and its group), SIGKILL what is left after `timeout`. False when it
    was not running."""
    if not alive(pid):
        return False
    try:
        leads_group = os.getpgid(pid) == pid
    except ProcessLookupError:
        return False
    kill = os.killpg if group and leads_group else os.kill
    try:
        kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    except PermissionError:
        kill = os.kill
        os.kill(pid, signal.SIGTERM)
    if not poll_until(lambda: not alive(pid), timeout):
        try:
            kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        poll_until(lambda: not alive(pid), 5.0)
    return True


class Child:
    """A process this one started, in its own process group, its output in a log file."""

    def __init__(self, process: subprocess.Popen, name: str, log_path: Path | None):
        self.process = process
        self.name = name
        self.log_path = log_path

    @classmethod
    def spawn(
        cls,
        command: list[str],
        name: str,
        log_path: Path | None = None,
        env: dict[str, str | None] | None = None,
        cwd: Path | None = None,
    ) -> "Child":
        """Start `command` with `env` added to this process's environment (None removes a name)."""
        environment = {**os.environ, **(env or {})}
        environment = {name: value for name, value in environment.items() if value is not None}
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path or os.devnull, "ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                cwd=cwd,
                start_new_session=True,
            )
        return cls(process, name, log_path)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, characters: int = 3000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-characters:]

    def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Until `check()` holds; RuntimeError (with the log's end) if the child exits first or
        the time runs out, and then the child is stopped."""
        exited: list[int] = []

        def ready() -> bool:
            if self.process.poll() is not None:
                exited.append(self.process.returncode)
                return True
            return check()

        if poll_until(ready, timeout) and not exited:
            return
        where = f"; see {self.log_path}" if self.log_path else ""
        self.stop()
        if exited:
            raise RuntimeError(f"{self.name} exited with code {exited[0]} before {what}{where}\n{self.log_tail()}")
        raise RuntimeError(f"{self.name}: no {what} within {timeout:.0f} s{where}\n{self.log_tail()}")

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        self.wait_until(lambda: http_ok(url), timeout, f"200 from {url}")

    def wait_api(self, base_url: str, timeout: float = 60.0) -> None:
        self.wait_until(lambda: api_up(base_url), timeout, f"the API's app running at {base_url}")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the child and everything in its process group, then reap it; also when the child
        itself is already dead (killed with SIGKILL, say) and left children of its own."""
        if self.process.poll() is None:
            stop_pid(self.process.pid, timeout)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        stop_group(self.process.pid, timeout)

    def __enter__(self) -> "Child":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StateFile:
    """What a detached child left behind for later commands: its pid, URL and whatever else,
    in a JSON file under MLTS_HOME, read and written under an exclusive file lock."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @contextmanager
    def locked(self) -> Iterator["StateFile"]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self) -> dict[str, Any] | None:
        """The record, if its process still runs."""
        try:
            state = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) and alive(state.get("pid")) else None

    def write(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        temporary.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def stop(self, timeout: float = 15.0) -> bool:
        """Stop the recorded process (by its pid, nothing else); False when none was running."""
        with self.locked():
            state = self.read()
            self.remove()
        return state is not None and stop_pid(state["pid"], timeout)


stopping = threading.Event()
"""Set when the process is told to stop (SIGTERM, Ctrl-C) while worker threads run a long loop:
only the main thread sees a signal, so they check this between items."""


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks and context managers stop the children
    this process started instead of leaving them behind."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, handler)
