"""Online prediction: `mlts serve` /predict against `mlflow models serve` on the same champion
and a bare Starlette app that only parses the body (the ceiling), one worker each, at 1, 8 and
64 keep-alive connections; plus `mlts serve --workers 2`. `python -m bench.predict`."""

import json
import os
from collections.abc import Iterable
from typing import Any

from bench import wrk
from bench.common import BIN, ensure_challenger, ensure_champion, start, synthetic, wait_post, wait_refreshed
from bench.loadgen import request_bytes, run_load
from bench.report import Report, run_alone
from core.processes import free_port
from core.settings import get_settings

LEVELS = (1, 8, 64)


def request_bodies() -> tuple[bytes, bytes]:
    """The same 48 points for mlts (its original body) and for MLflow (the last window)."""
    values = synthetic(48, seed=5)
    points = [
        {"timestamp": f"2024-01-0{1 + i // 24}T{i % 24:02d}:00:00Z", "value": float(v)} for i, v in enumerate(values)
    ]
    columns = [f"lag_{lag}" for lag in range(24, 0, -1)]
    mlflow = {"dataframe_split": {"columns": columns, "data": [values[-24:].tolist()]}}
    return json.dumps({"data": points, "window_size": 24}).encode(), json.dumps(mlflow).encode()


def _mlts_serve(port: int, *options: str) -> list[str]:
    """`mlts serve` with its defaults (the access log on), as a user starts it."""
    return [str(BIN / "mlts"), "serve", "--host", "127.0.0.1", "--port", str(port), *options]


def _median(runs: Iterable[Any]) -> Any:
    ordered = sorted(runs, key=lambda r: r.rps)
    return ordered[len(ordered) // 2]


def run(report: Report) -> None:
    name = ensure_champion()
    ensure_challenger()  # so the default server also forecasts in the shadow, as it would in production
    mlts_body, mlflow_body = request_bodies()
    total = int(os.environ.get("BENCH_REQUESTS", "4000"))
    uvicorn_flags = ["--workers", "1", "--no-access-log"]
    quiet = {"PREDICTION_LOG": "off", "SHADOW_CHALLENGER": "false"}
    servers = {
        "mlts serve /predict": (_mlts_serve, "/predict", mlts_body),
        "mlts serve, log and shadow off": (_mlts_serve, "/predict", mlts_body, quiet),
        "mlflow models serve": (
            lambda p: [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{name}@champion",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(p),
                "-w",
                "1",
            ],
            "/invocations",
            mlflow_body,
        ),
        "bare Starlette (ceiling)": (
            lambda p: [
                str(BIN / "uvicorn"),
                "bench.ceiling_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(p),
                *uvicorn_flags,
            ],
            "/predict",
            mlts_body,
        ),
        "mlts serve --workers 2": (lambda p: _mlts_serve(p, "--workers", "2"), "/predict", mlts_body),
    }
    # As a user starts them: LOG_LEVEL left at INFO, so mlts writes its access log.
    env = {"MODEL_NAME": name, "MLFLOW_TRACKING_URI": get_settings().tracking_uri}
    results = {}
    for label, (command, path, body, *extra) in servers.items():
        port = free_port()
        with start(command(port), label, env | (extra[0] if extra else {})) as server:
            wait_post(server, f"http://127.0.0.1:{port}{path}", body)
            if label.startswith("mlts"):
                took = wait_refreshed(server, f"http://127.0.0.1:{port}")
                print(f"{label}: first registry refresh took {took:.2f} s", flush=True)
            request = request_bytes("127.0.0.1", port, path, body)
            # mlts's two variants are compared with each other: the median of three runs each, so
            # one unlucky second on a shared machine does not decide the comparison.
            repeats = 3 if label.startswith("mlts serve") and "workers" not in label else 1
            url = f"http://127.0.0.1:{port}{path}"

            def load(connections: int) -> Any:
                if wrk.available():
                    return wrk.run_wrk(url, body, connections)
                return run_load("127.0.0.1", port, request, connections, total)

            results[label] = {c: _median(load(c) for _ in range(repeats)) for c in LEVELS}
    a, b, c = (results[k] for k in ("mlts serve /predict", "mlflow models serve", "bare Starlette (ceiling)"))
    rows = []
    for label, by_level in results.items():
        ours = label.startswith("mlts")
        for level, r in by_level.items():
            rows.append(
                [
                    label,
                    level,
                    f"{r.rps:,.0f}",
                    f"{r.percentile(50):.2f}",
                    f"{r.percentile(99):.2f}",
                    r.errors,
                    f"{r.rps / b[level].rps:.1f}x" if ours else "",
                    f"{r.rps / c[level].rps:.0%}" if ours else "",
                ]
            )
    report.target(
        "/predict vs mlflow models serve, 8 connections",
        ">= 10x",
        f"{a[8].rps / b[8].rps:.1f}x",
        a[8].rps >= 10 * b[8].rps,
    )
    report.target(
        "/predict share of the bare Starlette ceiling, 8 connections",
        ">= 60 %",
        f"{a[8].rps / c[8].rps:.0%}",
        a[8].rps >= 0.6 * c[8].rps,
    )
    report.target("/predict p99 at 8 connections", "< 5 ms", f"{a[8].percentile(99):.2f} ms", a[8].percentile(99) < 5)
    off = results["mlts serve, log and shadow off"]
    report.target(
        "/predict with prediction log and shadow challenger vs both off, 8 connections",
        ">= 90 %",
        f"{a[8].rps / off[8].rps:.0%}",
        a[8].rps >= 0.9 * off[8].rps,
    )
    added = a[8].percentile(99) - off[8].percentile(99)
    report.target(
        "/predict p99 added by the log and the shadow, 8 connections", "< 1 ms", f"{added:+.2f} ms", added < 1
    )
    report.table(
        "online",
        "1. Online prediction (48 points, window 24, one worker unless noted)",
        [
            "server",
            "connections",
            "requests/s",
            "p50 ms",
            "p99 ms",
            "non-2xx",
            "vs mlflow serve (a/b)",
            "of ceiling (a/c)",
        ],
        rows,
        (
            "5 s of `wrk -t1` per row after a 1 s warm-up"
            if wrk.available()
            else f"{total} requests per row after 200 warm-up requests, from an asyncio keep-alive load generator"
        )
        + " on the same machine (mlts serve's one-worker rows: the median of three such runs), every server with "
        "its default options (mlts: access log on, prediction log on, a shadow challenger; loaded once its first "
        "registry refresh, which imports MLflow in a thread, is done). Targets: a/b >= 10x, "
        "a/c >= 60 %, p99 < 5 ms at 8 connections.",
    )


if __name__ == "__main__":
    run_alone(run)
