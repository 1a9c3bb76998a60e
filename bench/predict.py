"""Online prediction: `mlts serve` /predict against `mlflow models serve` on the same champion
and a bare Starlette app that only parses the body (the ceiling), one worker each, at 1, 8 and
64 keep-alive connections; plus `mlts serve --workers 2`. `python -m bench.predict`."""

import json
import os
import re
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from statistics import median
from typing import Any

from bench import wrk
from bench.common import BIN, ensure_challenger, ensure_champion, start, synthetic, wait_post, wait_refreshed
from bench.loadgen import request_bytes, run_load
from bench.report import Report, run_alone
from core.processes import free_port
from core.settings import get_settings

LEVELS = (1, 8, 64)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
ROUND_SECONDS = 4.0
DEFAULTS, QUIET, CEILING = "mlts serve /predict", "mlts serve, log and shadow off", "bare Starlette (ceiling)"
MLFLOW, WORKERS = "mlflow models serve", "mlts serve --workers 2"


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


def _paired(runs: dict[str, list[Any]], a: str, b: str, figure: Callable[[Any, Any], float]) -> list[float]:
    """`figure` of each round's run of `a` against the same round's run of `b`: the runs of one
    round are seconds apart, so what the machine's other tenants do moves both alike."""
    return [figure(x, y) for x, y in zip(runs[a], runs[b], strict=True)]


def _rotated(urls: dict[str, str], load: Callable[[str, int, float], Any]) -> dict[int, dict[str, list[Any]]]:
    """Every server of `urls` loaded in turn, round after round (A B C, then C B A), at each
    level. On a shared machine throughput drifts by tens of percent within a minute (one server
    gave 3,500 and 7,200 requests/s a few seconds apart), more than the differences measured
    here, so servers compared with each other are measured side by side in time rather than
    one after the other."""
    labels = list(urls)
    by_level: dict[int, dict[str, list[Any]]] = {}
    for level in LEVELS:
        for label in labels:
            load(urls[label], level, 1.0)  # warm-up: connections, caches
        runs: dict[str, list[Any]] = {label: [] for label in labels}
        for round_ in range(ROUNDS):
            for label in labels if round_ % 2 == 0 else labels[::-1]:
                runs[label].append(load(urls[label], level, ROUND_SECONDS))
        by_level[level] = runs
    return by_level


def run(report: Report) -> None:
    name = ensure_champion()
    ensure_challenger()  # so the default server also forecasts in the shadow, as it would in production
    mlts_body, mlflow_body = request_bodies()
    total = int(os.environ.get("BENCH_REQUESTS", "4000"))
    ceiling = [str(BIN / "uvicorn"), "bench.ceiling_app:app", "--host", "127.0.0.1", "--workers", "1"]
    quiet = {"PREDICTION_LOG": "off", "SHADOW_CHALLENGER": "false"}
    compared: dict[str, tuple[Callable[[int], list[str]], dict[str, str]]] = {
        DEFAULTS: (_mlts_serve, {}),
        QUIET: (_mlts_serve, quiet),
        CEILING: (lambda p: [*ceiling, "--no-access-log", "--port", str(p)], {}),
    }
    mlflow = [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{name}@champion", "--env-manager", "local"]
    alone: dict[str, tuple[Callable[[int], list[str]], str]] = {
        MLFLOW: (lambda p: [*mlflow, "-h", "127.0.0.1", "-p", str(p), "-w", "1"], "/invocations"),
        WORKERS: (lambda p: _mlts_serve(p, "--workers", "2"), "/predict"),
    }
    bodies = {"/predict": mlts_body, "/invocations": mlflow_body}
    # As a user starts them: LOG_LEVEL left at INFO, so mlts writes its access log.
    env = {"MODEL_NAME": name, "MLFLOW_TRACKING_URI": get_settings().tracking_uri}

    def load(url: str, connections: int, seconds: float = 5.0) -> Any:
        path = "/" + url.split("/", 3)[3]
        if wrk.available():
            return wrk.run_wrk(url, bodies[path], connections, seconds, warmup=0)
        port = int(url.split(":")[2].split("/")[0])
        return run_load("127.0.0.1", port, request_bytes("127.0.0.1", port, path, bodies[path]), connections, total)

    def started(
        stack: ExitStack, label: str, command: Callable[[int], list[str]], extra: dict[str, str], path: str
    ) -> str:
        port = free_port()
        log_name = re.sub(r"\W+", "-", label).strip("-")  # a log file per server: they run side by side
        server = stack.enter_context(start(command(port), log_name, env | extra))
        wait_post(server, f"http://127.0.0.1:{port}{path}", bodies[path])
        if label.startswith("mlts"):
            took = wait_refreshed(server, f"http://127.0.0.1:{port}")
            print(f"{label}: first registry refresh took {took:.2f} s", flush=True)
        return f"http://127.0.0.1:{port}{path}"

    with ExitStack() as stack:
        urls = {
            label: started(stack, label, command, extra, "/predict") for label, (command, extra) in compared.items()
        }
        rotated = _rotated(urls, load)
    results = {label: {level: _median(rotated[level][label]) for level in LEVELS} for label in compared}
    for label, (command, path) in alone.items():
        with ExitStack() as stack:
            url = started(stack, label, command, {}, path)
            load(url, 8, 1.0)
            results[label] = {level: load(url, level) for level in LEVELS}

    def share(label: str, level: int) -> float:
        """Of the ceiling: the median of the rounds' paired ratios (against the ceiling's median
        for the servers measured alone)."""
        if label in compared:
            return median(_paired(rotated[level], label, CEILING, lambda x, y: x.rps / y.rps))
        return results[label][level].rps / results[CEILING][level].rps

    a, b = results[DEFAULTS], results[MLFLOW]
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
                    f"{share(label, level):.0%}" if ours else "",
                ]
            )
    report.target(
        "/predict vs mlflow models serve, 8 connections",
        ">= 10x",
        f"{a[8].rps / b[8].rps:.1f}x",
        a[8].rps >= 10 * b[8].rps,
    )
    of_ceiling = share(DEFAULTS, 8)
    report.target(
        "/predict share of the bare Starlette ceiling, 8 connections", ">= 60 %", f"{of_ceiling:.0%}", of_ceiling >= 0.6
    )
    report.target("/predict p99 at 8 connections", "< 5 ms", f"{a[8].percentile(99):.2f} ms", a[8].percentile(99) < 5)
    ratios = _paired(rotated[8], DEFAULTS, QUIET, lambda x, y: x.rps / y.rps)
    report.target(
        "/predict with prediction log and shadow challenger vs both off, 8 connections",
        ">= 90 %",
        f"{median(ratios):.0%} (rounds {min(ratios):.0%}-{max(ratios):.0%})",
        median(ratios) >= 0.9,
    )
    added = median(_paired(rotated[8], DEFAULTS, QUIET, lambda x, y: x.percentile(99) - y.percentile(99)))
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
            f"`wrk -t1` on the same machine. mlts serve's one-worker rows and the ceiling: the three servers run "
            f"side by side and are loaded in turn, {ROUNDS} rounds of {ROUND_SECONDS:.0f} s at each level; a row "
            "is the median round, and a ratio between them the median of the rounds' paired ratios. The others: "
            "5 s per row, alone"
            if wrk.available()
            else f"{total} requests per row after 200 warm-up requests, from an asyncio keep-alive load generator "
            f"on the same machine (the compared servers loaded in turn, {ROUNDS} rounds)"
        )
        + ". Every server with its default options (mlts: access log on, prediction log on, a shadow "
        "challenger; loaded once its first registry refresh, which imports MLflow in a thread, is done). "
        "Targets: a/b >= 10x, a/c >= 60 %, p99 < 5 ms at 8 connections.",
    )


if __name__ == "__main__":
    run_alone(run)
