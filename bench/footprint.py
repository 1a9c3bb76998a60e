"""Footprint of the API over the registry as it is now (every promoted model is loaded): its
resident memory and the time from start to /ready. `python -m bench.footprint`."""

import time

import httpx

from bench.common import ensure_champion, mlts_serve, rss_mb, start, wait_ready
from bench.report import Report, run_alone
from core.processes import free_port
from core.registry import client, promoted_models
from core.settings import get_settings


def run(report: Report) -> None:
    settings = get_settings()
    ensure_champion()
    loaded = len(promoted_models(client(settings), settings.model_alias))
    label = f"{loaded} promoted model{'s' if loaded > 1 else ''}"
    port = free_port()
    started = time.perf_counter()
    with start(mlts_serve(port), "footprint", {"LOG_LEVEL": "WARNING"}) as server:
        wait_ready(server, f"http://127.0.0.1:{port}/ready")
        ready = time.perf_counter() - started
        models = httpx.get(f"http://127.0.0.1:{port}/ready").json()["models"]
        rss = rss_mb(server.pid)
    report.target(f"API RSS, {label}", "< 300 MB", f"{rss:.0f} MB", rss < 300)
    report.target(f"start to /ready, {label}", "< 5 s", f"{ready:.2f} s", ready < 5)
    report.table(
        "footprint",
        "6. Footprint of the API" if "footprint" not in report.sections else "6b. Footprint after retraining",
        ["registry", "models", "RSS MB", "start to /ready 200 s"],
        [[label, f"{models} loaded", f"{rss:.0f}", f"{ready:.2f}"]],
        "Targets: RSS < 300 MB with 100 models; /ready within 5 s of start.",
    )


if __name__ == "__main__":
    run_alone(run)
