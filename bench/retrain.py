"""Retraining many series: `retrain_all` over 100 series of 5 000 points on the thread pool.
`python -m bench.retrain` (BENCH_SERIES sets the count)."""

import os
import time

import pandas as pd

from bench.common import database, frame_of, synthetic
from bench.report import Report, run_alone
from core.ingest import ingest_frame
from core.training_config import TrainingConfig


def run(report: Report) -> None:
    from pipelines.flows import retrain_all

    count, n = int(os.environ.get("BENCH_SERIES", "100")), 5000
    frame = pd.concat(
        [frame_of(synthetic(n, seed=100 + i), sensor=f"s{i:03d}") for i in range(count)], ignore_index=True
    )
    ingest_frame(database(), frame, "bench_many", drop=True)
    series = [
        TrainingConfig(collection="bench_many", filter={"additional_features.sensor_id": f"s{i:03d}"}, window_size=24)
        for i in range(count)
    ]
    started = time.perf_counter()
    summary = retrain_all(series=series, task_runner="threads")
    wall = time.perf_counter() - started
    fits = sum(o["timings"]["fit"] for o in summary["results"] if o.get("timings"))
    workers = min(8, (os.cpu_count() or 1) + 2)
    overhead = (wall * workers - fits) / count / workers
    report.target("retrain_all overhead per series", "< 1 s", f"{overhead:.2f} s", overhead < 1)
    report.table(
        "retrain",
        f"5. Retraining {count} series of {n:,} points (retrain_all, thread pool of {workers})",
        ["wall s", "per series s", "sum of fit s", "share outside fit", "failed"],
        [
            [
                f"{wall:.1f}",
                f"{wall / count:.2f}",
                f"{fits:.1f}",
                f"{1 - fits / (wall * workers):.0%}",
                len(summary["failed"]),
            ]
        ],
        "Share outside fit: 1 - (fit time summed over series) / (wall time x threads). Target: overhead per series "
        "< 1 s.",
    )


if __name__ == "__main__":
    run_alone(run)
