"""Services the CLI leaves running in the background (today the API; the embedded MongoDB has
its own in core.embedded_mongo): started detached in their own session, recorded in a state
file under MLTS_HOME, found and stopped by later commands by that record's pid, nothing else."""

import sys
from pathlib import Path

from core.processes import Child, StateFile, free_port, http_ok, poll_until, port_open
from core.settings import Settings


def api_state(settings: Settings) -> StateFile:
    return StateFile(settings.home.resolve() / "api.json")


def api_log(settings: Settings) -> Path:
    return settings.home.resolve() / "api.log"


def stop_api(settings: Settings) -> bool:
    """Stop the API `start_api` left running; False when none was."""
    return api_state(settings).stop()


def start_api(settings: Settings, host: str, port: int, workers: int, timeout: float = 60.0) -> tuple[str, bool]:
    """`mlts serve` detached (log in MLTS_HOME/api.log); waits until /ready answers. Returns its
    URL and whether the port had to change because another process held it."""
    stop_api(settings)
    moved = port_open(host, port)
    if moved:
        port = free_port()
    probe = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{probe}:{port}"
    command = [
        str(Path(sys.executable).parent / "mlts"),
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    child = Child.spawn(command, "the mlts API", api_log(settings))
    api_state(settings).write({"pid": child.pid, "url": url, "log": str(api_log(settings))})
    # Without a promoted model /ready stays 503 and the API serves anyway: give up waiting, not the API.
    poll_until(lambda: not child.running or http_ok(f"{url}/ready"), timeout)
    if not child.running:
        api_state(settings).remove()
        raise RuntimeError(f"the API exited at start; see {api_log(settings)}\n{child.log_tail(1500)}")
    return url, moved
