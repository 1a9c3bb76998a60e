"""Child processes: started in their own group, waited for without spinning, stopped with all
they started; state files that only speak of live processes."""

import os
import sys
import time
from pathlib import Path

import pytest

from core.processes import Child, StateFile, alive, free_port, poll_until, port_open, stop_pid

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
# A child that starts a grandchild and waits: stopping the child must stop both.
PARENT = [
    sys.executable,
    "-c",
    "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
    "'import time; time.sleep(60)']); print('started', flush=True); time.sleep(60)",
]


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def test_stopping_a_child_stops_its_whole_group(tmp_path: Path) -> None:
    child = Child.spawn(PARENT, "parent", tmp_path / "parent.log")
    child.wait_until(lambda: "started" in child.log_tail(), 30, "its grandchild")
    assert poll_until(lambda: bool(_children_of(child.pid)), 10)
    grandchildren = _children_of(child.pid)
    child.stop()
    assert not child.running
    assert poll_until(lambda: not any(alive(p) for p in grandchildren), 10)


def test_a_child_that_exits_early_is_reported_with_its_log(tmp_path: Path) -> None:
    child = Child.spawn(
        [sys.executable, "-c", "print('cannot start'); raise SystemExit(3)"], "broken", tmp_path / "b.log"
    )
    with pytest.raises(RuntimeError, match="(?s)broken exited with code 3 before .*cannot start"):
        child.wait_until(lambda: False, 30, "an answer")


def test_waiting_gives_up_in_time_and_stops_the_child(tmp_path: Path) -> None:
    child = Child.spawn(SLEEPER, "sleeper", tmp_path / "s.log")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="no an answer within 1 s"):
        child.wait_until(lambda: False, 1, "an answer")
    assert time.monotonic() - started < 5 and not child.running


def test_state_file_speaks_only_of_live_processes(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "service.json")
    assert state.read() is None and not state.stop()
    child = Child.spawn(SLEEPER, "sleeper")
    state.write({"pid": child.pid, "url": "http://127.0.0.1:1"})
    assert state.read()["pid"] == child.pid
    assert state.stop()
    assert state.read() is None and not child.running and not state.path.exists()


def test_alive_and_stop_pid_on_dead_zombie_and_foreign_pids() -> None:
    child = Child.spawn([sys.executable, "-c", "pass"], "brief")
    assert poll_until(lambda: not alive(child.pid), 10)  # exited: a zombie until reaped is not alive
    assert not stop_pid(child.pid)
    assert not alive(None) and not alive(-1) and alive(os.getpid())
    child.stop()


def test_ports() -> None:
    port = free_port()
    assert not port_open("127.0.0.1", port)
    child = Child.spawn([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], "http")
    try:
        assert poll_until(lambda: port_open("127.0.0.1", port), 20)
    finally:
        child.stop()
