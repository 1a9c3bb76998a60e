"""`make bench`: every benchmark in one run on this machine, written to bench/results.md.
`python -m bench.run [predict batch training ingestion retrain footprint monitor cold fleet_registry accuracy]`
(default: all); each also runs alone as `python -m bench.<name>`."""

import sys
import traceback

from bench import accuracy, batch, cold, fleet_registry, footprint, ingestion, monitor, predict, retrain, training
from bench.common import setup, teardown
from bench.report import Report

BENCHMARKS = {
    "predict": predict.run,
    "batch": batch.run,
    "training": training.run,
    "ingestion": ingestion.run,
    "retrain": retrain.run,
    "footprint": footprint.run,
    "monitor": monitor.run,
    "cold": cold.run,
    "fleet_registry": fleet_registry.run,
    "accuracy": accuracy.run,
}
ORDER = [
    "online",
    "batch",
    "training",
    "ingestion",
    "retrain",
    "retrain_fleet",
    "footprint",
    "monitor",
    "cold",
    "fleet_registry",
    "accuracy",
]


def plan(names: list[str]) -> list[str]:
    """Footprint runs twice: with few models (before `retrain` registers a hundred) and after."""
    names = names or list(BENCHMARKS)
    if "footprint" in names and "retrain" in names:
        names = [n for n in names if n != "footprint"]
        names.insert(names.index("retrain"), "footprint")
        names.append("footprint")
    return names


def main(names: list[str]) -> None:
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}")
    setup()
    report = Report()
    try:
        for name in plan(names):
            print(f"=== {name}", flush=True)
            try:
                BENCHMARKS[name](report)
            except Exception as exc:  # noqa: BLE001 - one broken benchmark never loses the others' figures
                traceback.print_exc()
                report.failed(name, f"{type(exc).__name__}: {str(exc)[:300]}")
        report.write(ORDER)
    finally:
        teardown()


if __name__ == "__main__":
    main(sys.argv[1:])
