"""`make bench`: every benchmark of mlts against what users would pick instead, measured in one
run on this machine, written to bench/results.md. Every figure that matters is a ratio against a
reference measured in the same run. Usage: python -m bench.run [online batch training ingestion
retrain footprint]  (default: all)."""

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results.md"

os.environ.setdefault("MLTS_HOME", str(WORK / "home"))
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"

import numpy as np  # noqa: E402

from bench.loadgen import request_bytes, run_load  # noqa: E402
from core.embedded_mongo import free_port  # noqa: E402
from core.settings import get_settings  # noqa: E402

SECTIONS: dict[str, str] = {}
TARGETS: list[tuple[str, str, str, bool]] = []


def target(name: str, wanted: str, measured: str, met: bool) -> None:
    TARGETS.append((name, wanted, measured, met))


def table(title: str, header: list[str], rows: list[list], notes: str = "") -> str:
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    text = "\n".join(lines) + ("\n\n" + notes if notes else "") + "\n"
    print("\n" + text, flush=True)
    return text


def synthetic(n: int, seed: int = 0) -> np.ndarray:
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    t = np.arange(n)
    noise = lfilter([1.0], [1.0, -0.8], rng.normal(0, 0.5, n))
    return 50 + 10 * np.sin(2 * np.pi * t / 24) + 3 * np.sin(2 * np.pi * t / 168) + noise


def frame_of(values: np.ndarray, sensor: str = "bench"):
    import pandas as pd

    stamps = pd.date_range("2000-01-01", periods=len(values), freq="h").strftime("%Y-%m-%dT%H:%M:%SZ")
    return pd.DataFrame({"timestamp": stamps, "value": np.round(values, 4), "sensor_id": sensor})


def database():
    from core.mongo import connect, database_url

    settings = get_settings()
    return connect(database_url(settings), 30_000)[settings.mongodb_database]


def start(command: list[str], env: dict[str, str] | None = None, log_name: str = "server") -> subprocess.Popen:
    log = (WORK / f"{log_name}.log").open("w")
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.Popen(command, env={**os.environ, "PATH": path, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip


def wait_http(url: str, timeout: float = 120.0, method: str = "GET", body: bytes | None = None) -> float:
    import httpx

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            response = httpx.request(method, url, content=body, timeout=2, headers={"content-type": "application/json"})
            if response.status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)


def rss_mb(pid: int) -> float:
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(Path(f"/proc/{entry.name}/stat").read_text().split(")")[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                found += [int(entry.name), *_children(int(entry.name))]
    return found


# --- shared state ---------------------------------------------------------------------------------

def ensure_champion() -> str:
    """One model (window 24) trained by the flow on a 20 000-point series: what the online
    benchmarks serve."""
    from core.ingest import ingest_frame
    from core.registry import client, version_by_alias

    name = "bench_online.value"
    settings = get_settings()
    if version_by_alias(client(settings), name, settings.model_alias) is None:
        ingest_frame(database(), frame_of(synthetic(20_000, seed=1)), "bench_online", drop=True)
        from pipelines.flows import train_series

        train_series(collection="bench_online", window_size=24)
    return name


# --- 1. online prediction ------------------------------------------------------------------------

def bench_online() -> None:
    name = ensure_champion()
    values = synthetic(48, seed=5)
    points = [{"timestamp": f"2024-01-0{1 + i // 24}T{i % 24:02d}:00:00Z", "value": float(v)} for i, v in enumerate(values)]
    mlts_body = json.dumps({"data": points, "window_size": 24}).encode()
    columns = [f"lag_{lag}" for lag in range(24, 0, -1)]
    mlflow_body = json.dumps({"dataframe_split": {"columns": columns, "data": [values[-24:].tolist()]}}).encode()
    uvicorn_flags = ["--workers", "1", "--no-access-log"]
    env = {"MODEL_NAME": name, "LOG_LEVEL": "WARNING"}
    levels, total = (1, 8, 64), int(os.environ.get("BENCH_REQUESTS", "4000"))
    servers = {
        "mlts serve /predict": (lambda p: [str(BIN / "mlts"), "serve", "--host", "127.0.0.1", "--port", str(p), "--no-access-log"],
                               "/predict", mlts_body),
        "mlflow models serve": (lambda p: [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{name}@champion",
                                           "--env-manager", "local", "-h", "127.0.0.1", "-p", str(p), "-w", "1"],
                                "/invocations", mlflow_body),
        "bare Starlette (ceiling)": (lambda p: [str(BIN / "uvicorn"), "bench.ceiling_app:app", "--host", "127.0.0.1",
                                                "--port", str(p), *uvicorn_flags], "/predict", mlts_body),
        "mlts serve --workers 2": (lambda p: [str(BIN / "mlts"), "serve", "--host", "127.0.0.1", "--port", str(p),
                                              "--no-access-log", "--workers", "2"], "/predict", mlts_body),
    }  # fmt: skip
    results: dict[str, dict[int, object]] = {}
    for label, (command, path, body) in servers.items():
        port = free_port()
        process = start(command(port), env={**env, "MLFLOW_TRACKING_URI": get_settings().tracking_uri}, log_name=label.split()[0])
        try:
            wait_http(f"http://127.0.0.1:{port}{path}", method="POST", body=body)
            results[label] = {c: run_load("127.0.0.1", port, request_bytes("127.0.0.1", port, path, body), c, total) for c in levels}
        finally:
            stop(process)
    rows = []
    a, b, c = (results[k] for k in ("mlts serve /predict", "mlflow models serve", "bare Starlette (ceiling)"))
    for label, by_level in results.items():
        for level, r in by_level.items():
            rows.append([label, level, f"{r.rps:,.0f}", f"{r.percentile(50):.2f}", f"{r.percentile(99):.2f}", r.errors,
                         f"{r.rps / b[level].rps:.1f}x" if label.startswith("mlts") else "",
                         f"{r.rps / c[level].rps:.0%}" if label.startswith("mlts") else ""])  # fmt: skip
    target("/predict vs mlflow models serve, 8 connections", ">= 10x", f"{a[8].rps / b[8].rps:.1f}x", a[8].rps >= 10 * b[8].rps)
    target("/predict share of the bare Starlette ceiling, 8 connections", ">= 60 %", f"{a[8].rps / c[8].rps:.0%}", a[8].rps >= 0.6 * c[8].rps)
    target("/predict p99 at 8 connections", "< 5 ms", f"{a[8].percentile(99):.2f} ms", a[8].percentile(99) < 5)
    SECTIONS["online"] = table(
        "1. Online prediction (48 points, window 24, one worker unless noted)",
        ["server", "connections", "requests/s", "p50 ms", "p99 ms", "non-2xx", "vs mlflow serve (a/b)", "of ceiling (a/c)"],
        rows,
        f"{total} requests per row after 200 warm-up requests, from an asyncio keep-alive load generator on the same "
        "machine. Targets: a/b >= 10x, a/c >= 60 %, p99 < 5 ms at 8 connections.",
    )


# --- 2. batch prediction -------------------------------------------------------------------------

def bench_batch() -> None:
    import httpx

    from core.registry import client, load_version, version_by_alias

    name = ensure_champion()
    settings = get_settings()
    model = load_version(client(settings), version_by_alias(client(settings), name, settings.model_alias))
    port = free_port()
    process = start([str(BIN / "mlts"), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
                    env={"MODEL_NAME": name, "LOG_LEVEL": "WARNING"}, log_name="batch")  # fmt: skip
    rows = []
    try:
        wait_http(f"http://127.0.0.1:{port}/ready")
        series = synthetic(10_100, seed=9)
        with httpx.Client(timeout=120) as http:
            for n in (1, 100, 10_000):
                windows = np.lib.stride_tricks.sliding_window_view(series, 24)[:n]
                body = json.dumps({"windows": windows.tolist()}).encode()
                repeats = max(3, min(200, 200_000 // (n * 10)))
                http.post(f"http://127.0.0.1:{port}/predict/batch", content=body)
                started = time.perf_counter()
                for _ in range(repeats):
                    assert http.post(f"http://127.0.0.1:{port}/predict/batch", content=body).status_code == 200
                end_to_end = n * repeats / (time.perf_counter() - started)
                x = np.ascontiguousarray(windows)
                started = time.perf_counter()
                for _ in range(repeats * 5):
                    model.predict(x)
                ceiling = n * repeats * 5 / (time.perf_counter() - started)
                rows.append([f"{n:,}", f"{len(body) / 1e6:.2f} MB", f"{end_to_end:,.0f}", f"{ceiling:,.0f}", f"{end_to_end / ceiling:.1%}"])
    finally:
        stop(process)
    target("/predict/batch, 10 000 windows", ">= 300 000 windows/s", rows[-1][2], float(rows[-1][2].replace(",", "")) >= 300_000)
    SECTIONS["batch"] = table(
        "2. Batch prediction (/predict/batch, window 24, horizon 1)",
        ["windows per request", "body", "windows/s end to end", "numpy predict in-process (ceiling)", "share of ceiling"],
        rows, "End to end includes the HTTP round trip, JSON parsing and encoding. Target: >= 300 000 windows/s at 10 000 windows.",
    )  # fmt: skip


# --- 4. ingestion and loading (before training: it writes the 1M-point series) --------------------

def bench_ingestion() -> None:
    from core.ingest import documents_from_frame, write_documents
    from core.mongo import read_series, to_arrays
    from core.series import SeriesSpec

    n = int(os.environ.get("BENCH_INGEST_POINTS", "1000000"))
    db = database()
    frame = frame_of(synthetic(n, seed=2))
    db.drop_collection("bench_million")
    db.drop_collection("bench_bare")
    started = time.perf_counter()
    documents, rejected = documents_from_frame(frame, "timestamp", ["value"], "additional_features")
    write_documents(db, "bench_million", documents, "timestamp", 5000)
    seed_rate = n / (time.perf_counter() - started)
    bare = [dict(d) for d in documents]
    started = time.perf_counter()
    for begin in range(0, n, 5000):
        db.bench_bare.insert_many(bare[begin : begin + 5000], ordered=False)
    insert_rate = n / (time.perf_counter() - started)
    started = time.perf_counter()
    series = to_arrays(read_series(db, SeriesSpec("bench_million")))
    load_rate = n / (time.perf_counter() - started)
    assert len(series.values) == n
    started = time.perf_counter()
    found = list(db.bench_million.find({}, {"_id": 0, "timestamp": 1, "value": 1}, batch_size=10_000))
    find_rate = len(found) / (time.perf_counter() - started)
    db.drop_collection("bench_bare")
    where = "MONGODB_URL" if get_settings().mongo_url else "embedded nx-27017"
    target("mlts seed vs bare insert_many", ">= 80 %", f"{seed_rate / insert_rate:.0%}", seed_rate >= 0.8 * insert_rate)
    target("series load vs bare find", ">= 80 %", f"{load_rate / find_rate:.0%}", load_rate >= 0.8 * find_rate)
    SECTIONS["ingestion"] = table(
        f"4. Ingestion and loading ({n:,} documents, {where})",
        ["operation", "documents/s", "driver ceiling documents/s", "share of ceiling"],
        [["mlts seed (parse, normalise, insert_many)", f"{seed_rate:,.0f}", f"{insert_rate:,.0f}", f"{seed_rate / insert_rate:.0%}"],
         ["load as a series (find_raw_batches → numpy)", f"{load_rate:,.0f}", f"{find_rate:,.0f}", f"{load_rate / find_rate:.0%}"]],
        "Ceilings: a bare pymongo insert_many of the same prepared dicts, and a bare projected find into a list. Target: >= 80 %.",
    )  # fmt: skip


# --- 3. training ------------------------------------------------------------------------------------

def bench_training() -> None:
    from ml.windows import holdout_size, windows
    from pipelines.flows import train_series

    db = database()
    total = db.bench_million.estimated_document_count()
    if total < 1_000_000:
        bench_ingestion()
    rows = []
    # Once before measuring: the process's first flow pays for imports and Prefect's local server.
    train_series(collection="bench_million", limit=10_000, window_size=24)
    for n in (10_000, 100_000, 1_000_000):
        started = time.perf_counter()
        outcome = train_series(collection="bench_million", limit=n, window_size=24)
        wall = time.perf_counter() - started
        t = outcome["timings"]
        values = synthetic(int(os.environ.get("BENCH_INGEST_POINTS", "1000000")), seed=2)[-n:]
        values = np.round(values, 4)
        start = n - holdout_size(n, 24, 0.2, 10_000)
        x, y = windows(values[:start], 24)
        began = time.perf_counter()
        design = np.hstack([x, np.ones((len(x), 1))])
        theta = np.linalg.lstsq(design, y, rcond=None)[0]
        lstsq_time = time.perf_counter() - began
        xh, yh = windows(values, 24)
        xh, yh = xh[start - 24 :], yh[start - 24 :]
        lstsq_rmse = float(np.sqrt(np.mean((xh @ theta[:-1] + theta[-1] - yh) ** 2)))
        rmse = outcome["metrics"]["rmse"]
        overhead = wall - t["fit"]
        target(f"holdout RMSE vs lstsq, {n:,} points", "within 1 %", f"{rmse / lstsq_rmse - 1:+.2%}", rmse <= 1.01 * lstsq_rmse)
        if n == 1_000_000:
            target("fit of 1 000 000 points", "< 10 s", f"{t['fit']:.2f} s", t["fit"] < 10)
        if n == 10_000:
            target("train_series overhead at 10 000 points", "< 3 s", f"{overhead:.2f} s", overhead < 3)
        rows.append([f"{n:,}", f"{wall:.2f}", *(f"{t[k]:.2f}" for k in ("load", "validate", "fit", "evaluate", "log")),
                     f"{t['register'] + t['promote']:.2f}", f"{overhead:.2f}", f"{lstsq_time:.2f}",
                     f"{rmse:.4f}", f"{lstsq_rmse:.4f}", f"{rmse / lstsq_rmse - 1:+.2%}"])  # fmt: skip
    SECTIONS["training"] = table(
        "3. Training (train_series, window 24)",
        ["points", "wall s", "load", "validate", "fit", "evaluate", "log", "register+promote", "all but fit s",
         "lstsq s", "holdout RMSE", "lstsq RMSE", "RMSE vs lstsq"],
        rows, "After one warm-up run (imports, Prefect's local server). Targets: RMSE within 1 % of least squares; "
        "fit of 1 000 000 points < 10 s; all but fit < 3 s at 10 000 points.",
    )  # fmt: skip


# --- 5. retraining many series --------------------------------------------------------------------

def bench_retrain() -> None:
    import pandas as pd

    from core.ingest import ingest_frame
    from pipelines.flows import retrain_all

    count, n = int(os.environ.get("BENCH_SERIES", "100")), 5000
    db = database()
    frame = pd.concat([frame_of(synthetic(n, seed=100 + i), sensor=f"s{i:03d}") for i in range(count)], ignore_index=True)
    ingest_frame(db, frame, "bench_many", drop=True)
    series = [{"collection": "bench_many", "filter": {"additional_features.sensor_id": f"s{i:03d}"}, "window_size": 24}
              for i in range(count)]  # fmt: skip
    started = time.perf_counter()
    summary = retrain_all(series=series, task_runner="threads")
    wall = time.perf_counter() - started
    fits = sum(o["timings"]["fit"] for o in summary["results"] if o.get("timings"))
    failed = len(summary["failed"])
    workers = min(8, (os.cpu_count() or 1) + 2)
    target("retrain_all overhead per series", "< 1 s", f"{(wall * workers - fits) / count / workers:.2f} s",
           (wall * workers - fits) / count / workers < 1)
    SECTIONS["retrain"] = table(
        f"5. Retraining {count} series of {n:,} points (retrain_all, thread pool of {workers})",
        ["wall s", "per series s", "sum of fit s", "share outside fit", "failed"],
        [[f"{wall:.1f}", f"{wall / count:.2f}", f"{fits:.1f}", f"{1 - fits / (wall * workers):.0%}", failed]],
        "Share outside fit: 1 - (fit time summed over series) / (wall time x threads). Target: overhead per series < 1 s.",
    )  # fmt: skip


# --- 6. footprint ------------------------------------------------------------------------------------

FOOTPRINT_ROWS: list[list[str]] = []


def bench_footprint() -> None:
    """The API over the registry as it is now: every promoted model is loaded."""
    from core.registry import client, promoted_models

    settings = get_settings()
    ensure_champion()
    loaded = len(promoted_models(client(settings), settings.model_alias))
    rows = FOOTPRINT_ROWS
    for label, env in ((f"{loaded} promoted model{'s' if loaded > 1 else ''}", {}),):
        port = free_port()
        started = time.perf_counter()
        process = start([str(BIN / "mlts"), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
                        env={**env, "LOG_LEVEL": "WARNING"}, log_name="footprint")  # fmt: skip
        try:
            wait_http(f"http://127.0.0.1:{port}/ready", timeout=300)
            ready = time.perf_counter() - started
            import httpx

            models_note = f"{httpx.get(f'http://127.0.0.1:{port}/ready').json()['models']} loaded"
            rss = rss_mb(process.pid)
            rows.append([label, models_note, f"{rss:.0f}", f"{ready:.2f}"])
            target(f"API RSS, {label}", "< 300 MB", f"{rss:.0f} MB", rss < 300)
            target(f"start to /ready, {label}", "< 5 s", f"{ready:.2f} s", ready < 5)
        finally:
            stop(process)
    SECTIONS["footprint"] = table(
        "6. Footprint of the API", ["registry", "models", "RSS MB", "start to /ready 200 s"], rows,
        "Targets: RSS < 300 MB with 100 models; /ready within 5 s of start.",
    )  # fmt: skip


BENCHMARKS = {"ingestion": bench_ingestion, "training": bench_training, "online": bench_online, "batch": bench_batch,
              "retrain": bench_retrain, "footprint": bench_footprint}  # fmt: skip
ORDER = ["online", "batch", "training", "ingestion", "retrain", "footprint"]


def _footprint_twice(names: list[str]) -> list[str]:
    """Footprint with few models (before `retrain` registers a hundred) and with all of them."""
    if "footprint" in names and "retrain" in names:
        names = [n for n in names if n != "footprint"]
        names.insert(names.index("retrain"), "footprint")
        names.append("footprint")
    return names


def main(names: list[str]) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    get_settings().configure_environment()
    started = time.perf_counter()
    for name in _footprint_twice(names or list(BENCHMARKS)):
        print(f"=== {name}", flush=True)
        BENCHMARKS[name]()
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("mlflow", "prefect", "fastapi", "uvicorn", "numpy", "pymongo", "msgspec"))
    header = (
        f"# mlts benchmarks\n\nRun {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} with {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.platform()}), Python {platform.python_version()}; {versions}. "
        f"Took {time.perf_counter() - started:.0f} s. Reproduce with `make bench`.\n\n"
    )
    summary = table("Targets", ["what", "target", "measured", "met"], [[n, w, m, "yes" if ok else "**no**"] for n, w, m, ok in TARGETS])
    notes = (ROOT / "bench" / "analysis.md").read_text() if (ROOT / "bench" / "analysis.md").exists() else ""
    RESULTS.write_text(header + summary + "\n" + "\n".join(SECTIONS[n] for n in ORDER if n in SECTIONS) + "\n" + notes)
    print(f"wrote {RESULTS}")
    from core.embedded_mongo import stop_local_server

    stop_local_server(get_settings().home)
    if os.environ.get("BENCH_KEEP") != "1":
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
