"""Retraining many series: `retrain_all` over 100 series of 5 000 points on the thread pool.
`python -m bench.retrain` (BENCH_SERIES sets the count)."""

import os
import resource
import time

import pandas as pd

from bench.common import database, frame_of, synthetic
from bench.report import Report, run_alone
from core.ingest import ingest_frame
from core.training_config import TrainingConfig

POINTS = 5000


def series_of(count: int, collection: str = "bench_many", sensor: str = "s{:03d}") -> list[TrainingConfig]:
    return [
        TrainingConfig(
            collection=collection, filter={"additional_features.sensor_id": sensor.format(i)}, window_size=24
        )
        for i in range(count)
    ]


def seed(count: int, points: int = POINTS, collection: str = "bench_many", sensor: str = "s{:03d}") -> list:
    """`count` sensors of `points` hourly readings in one collection, as a plant's would be; their configs."""
    frame = pd.concat(
        [frame_of(synthetic(points, seed=100 + i), sensor=sensor.format(i)) for i in range(count)], ignore_index=True
    )
    ingest_frame(database(), frame, collection, drop=True)
    return series_of(count, collection, sensor)


def _timed(series: list[TrainingConfig]) -> tuple[dict, float]:
    from pipelines.flows import retrain_all

    started = time.perf_counter()
    summary = retrain_all(series=series, task_runner="threads")
    return summary, time.perf_counter() - started


def run(report: Report) -> None:
    count, n = int(os.environ.get("BENCH_SERIES", "100")), POINTS
    summary, wall = _timed(seed(count))
    fits = sum(o["timings"]["fit"] for o in summary["results"] if o.get("timings"))
    workers = min(8, (os.cpu_count() or 1) + 2)
    overhead = (wall * workers - fits) / count / workers
    report.target("retrain_all overhead per series", "< 1 s", f"{overhead:.2f} s", overhead < 1)
    if count == 100:
        report.target("retrain_all, 100 series x 5 000 points", "< 60 s", f"{wall:.0f} s", wall < 60)
    fleet = int(os.environ.get("BENCH_FLEET", "0"))
    if fleet:
        _fleet(report, fleet)
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


def _fleet(report: Report, count: int, points: int = 2000) -> None:
    """BENCH_FLEET=1000: a plant's fleet, `count` series of `points`, on the thread pool (about
    25 minutes on 2 cores, so not in the default run)."""
    summary, wall = _timed(seed(count, points, "bench_fleet", "f{:04d}"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report.target(f"retrain_all, {count} series x {points:,} points", "< 600 s", f"{wall:.0f} s", wall < 600)
    report.table(
        "retrain_fleet",
        f"5b. Retraining a fleet: {count} series of {points:,} points (thread pool)",
        ["wall s", "per series s", "failed", "peak RSS of this process MB"],
        [[f"{wall:.0f}", f"{wall / count:.2f}", len(summary["failed"]), f"{peak:.0f}"]],
    )


if __name__ == "__main__":
    run_alone(run)
