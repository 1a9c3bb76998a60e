"""What the benchmarks share: their state folder, the series they use, starting and stopping
the servers they measure, and the champion the online benchmarks serve."""

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from core.processes import Child, http_ok
from core.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
BIN = Path(sys.executable).parent
ONLINE_MODEL = "bench_online.value"


def setup() -> None:
    """The benchmarks' own MLTS_HOME under bench/.work, applied before anything reads settings."""
    from core.bootstrap import bootstrap

    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLTS_HOME", str(WORK / "home"))
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    get_settings.cache_clear()
    bootstrap()


def teardown() -> None:
    from core.embedded_mongo import stop_local_server

    stop_local_server(get_settings().home)
    if os.environ.get("BENCH_KEEP") != "1":
        shutil.rmtree(WORK, ignore_errors=True)


def synthetic(n: int, seed: int = 0) -> np.ndarray:
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    t = np.arange(n)
    noise = lfilter([1.0], [1.0, -0.8], rng.normal(0, 0.5, n))
    return 50 + 10 * np.sin(2 * np.pi * t / 24) + 3 * np.sin(2 * np.pi * t / 168) + noise


def frame_of(values: np.ndarray, sensor: str = "bench") -> pd.DataFrame:
    stamps = pd.date_range("2000-01-01", periods=len(values), freq="h").strftime("%Y-%m-%dT%H:%M:%SZ")
    return pd.DataFrame({"timestamp": stamps, "value": np.round(values, 4), "sensor_id": sensor})


def database():
    from core.mongo import connect, database_url

    settings = get_settings()
    return connect(database_url(settings), 30_000)[settings.mongodb_database]


def start(command: list[str], name: str, env: dict[str, str] | None = None) -> Child:
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return Child.spawn(command, name, WORK / f"{name.split()[0]}.log", env={"PATH": path, **(env or {})})


def mlts_serve(port: int, *extra: str) -> list[str]:
    return [str(BIN / "mlts"), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log", *extra]


def wait_ready(child: Child, url: str, timeout: float = 300.0) -> None:
    child.wait_until(lambda: http_ok(url, timeout=2), timeout, f"200 from {url}")


def wait_post(child: Child, url: str, body: bytes, timeout: float = 120.0) -> None:
    import httpx

    def answers() -> bool:
        try:
            return (
                httpx.post(url, content=body, timeout=2, headers={"content-type": "application/json"}).status_code
                == 200
            )
        except httpx.HTTPError:
            return False

    child.wait_until(answers, timeout, f"200 from POST {url}")


def wait_refreshed(child: Child, base: str, timeout: float = 180.0) -> float:
    """Until mlts has finished its first registry refresh, which imports MLflow in a thread that
    holds the GIL against requests for seconds: a load started before it measures the import.
    Returns what the refresh took (s)."""
    import httpx

    seen: list[float] = []

    def refreshed() -> bool:
        try:
            took = httpx.get(f"{base}/health", timeout=5).json().get("last_refresh_seconds")
        except (httpx.HTTPError, ValueError):
            return False
        seen.append(took)
        return took is not None

    child.wait_until(refreshed, timeout, f"a first registry refresh reported by {base}/health")
    return float(seen[-1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants."""
    total = 0
    for member in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def _descendants(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(Path(f"/proc/{entry.name}/stat").read_text().split(")")[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                found += [int(entry.name), *_descendants(int(entry.name))]
    return found


def ensure_champion() -> str:
    """One model (window 24) trained by the flow on a 20 000-point series: what the online
    benchmarks serve."""
    from core.ingest import ingest_frame
    from core.registry import client, version_by_alias
    from core.training_config import TrainingConfig

    settings = get_settings()
    if version_by_alias(client(settings), ONLINE_MODEL, settings.model_alias) is None:
        ingest_frame(database(), frame_of(synthetic(20_000, seed=1)), "bench_online", drop=True)
        from pipelines.flows import train_series

        train_series(TrainingConfig(collection="bench_online", window_size=24))
    return ONLINE_MODEL


def ensure_challenger() -> None:
    """A second, deliberately undertrained version of the online model behind the challenger
    alias: what the shadow forecasts with."""
    from core.registry import client, version_by_alias
    from core.training_config import TrainingConfig

    settings = get_settings()
    if version_by_alias(client(settings), ONLINE_MODEL, settings.challenger_alias) is None:
        from pipelines.flows import train_series

        train_series(TrainingConfig(collection="bench_online", window_size=24, epochs=2))
