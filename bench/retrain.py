"""Retraining many series: `retrain_all` over 100 series of 5 000 points on the thread pool,
then a fleet of 1 000 series of 2 000 points on the thread pool and on Dask. `python -m
bench.retrain` (BENCH_SERIES sets the first count, BENCH_FLEET the fleet's; 0 skips it)."""

import os
import threading
import time

import pandas as pd

from bench.common import database, frame_of, rss_mb, synthetic
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


def _timed(series: list[TrainingConfig], runner: str = "threads") -> tuple[dict, float]:
    from pipelines.flows import retrain_all

    started = time.perf_counter()
    summary = retrain_all(series=series, task_runner=runner)
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
    fleet = int(os.environ.get("BENCH_FLEET", "1000"))
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
    """A plant's fleet: `count` series of `points`, retrained on the thread pool and on Dask,
    with the peak memory of the whole process tree (Dask's workers included)."""
    series = seed(count, points, "bench_fleet", "f{:04d}")
    rows = []
    for runner in ("threads", "dask"):
        with PeakMemory() as peak:
            summary, wall = _timed(series, runner)
        report.target(
            f"retrain_all ({runner}), {count} series x {points:,} points", "< 600 s", f"{wall:.0f} s", wall < 600
        )
        rows.append([runner, f"{wall:.0f}", f"{wall / count:.2f}", len(summary["failed"]), f"{peak.mb:.0f}"])
    report.table(
        "retrain_fleet",
        f"5b. Retraining a fleet: {count} series of {points:,} points",
        ["task runner", "wall s", "per series s", "failed", "peak RSS of the process tree MB"],
        rows,
        "Each series still gets its own run, registered version and champion-gate decision. The peak is sampled "
        "every half second over this process and its children (Dask's workers).",
    )


class PeakMemory:
    """The largest resident memory of this process and its children while the block runs."""

    def __init__(self) -> None:
        self.mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.mb = max(self.mb, rss_mb(os.getpid()))

    def __enter__(self) -> "PeakMemory":
        self.mb = rss_mb(os.getpid())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


if __name__ == "__main__":
    run_alone(run)
