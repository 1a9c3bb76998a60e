"""Training: `train_series` on 10 000, 100 000 and 1 000 000 points, split into its steps,
against `numpy.linalg.lstsq` on the same windows (time and holdout RMSE). `python -m bench.training`."""

import time

import numpy as np

from bench import ingestion
from bench.common import database, synthetic
from bench.report import Report, run_alone
from core.training_config import TrainingConfig
from ml.windows import holdout_size, windows


def _lstsq(values: np.ndarray, start: int) -> tuple[float, float]:
    """Seconds to solve least squares on the training windows, and its holdout RMSE."""
    x, y = windows(values[:start], 24)
    began = time.perf_counter()
    theta = np.linalg.lstsq(np.hstack([x, np.ones((len(x), 1))]), y, rcond=None)[0]
    seconds = time.perf_counter() - began
    xh, yh = windows(values, 24)
    xh, yh = xh[start - 24 :], yh[start - 24 :]
    return seconds, float(np.sqrt(np.mean((xh @ theta[:-1] + theta[-1] - yh) ** 2)))


def run(report: Report) -> None:
    from pipelines.flows import train_series

    if database()[ingestion.MILLION].estimated_document_count() < ingestion.points():
        ingestion.run(report)
    # Once before measuring: the process's first flow pays for imports and Prefect's local server.
    train_series(TrainingConfig(collection=ingestion.MILLION, limit=10_000, window_size=24))
    rows = []
    for n in (10_000, 100_000, 1_000_000):
        started = time.perf_counter()
        outcome = train_series(TrainingConfig(collection=ingestion.MILLION, limit=n, window_size=24))
        wall = time.perf_counter() - started
        t = outcome["timings"]
        values = np.round(synthetic(ingestion.points(), seed=2)[-n:], 4)
        lstsq_time, lstsq_rmse = _lstsq(values, n - holdout_size(n, 24, 0.2, 10_000))
        rmse = outcome["metrics"]["rmse"]
        overhead = wall - t["fit"]
        report.target(
            f"holdout RMSE vs lstsq, {n:,} points",
            "within 1 %",
            f"{rmse / lstsq_rmse - 1:+.2%}",
            rmse <= 1.01 * lstsq_rmse,
        )
        if n == 1_000_000:
            report.target("fit of 1 000 000 points", "< 10 s", f"{t['fit']:.2f} s", t["fit"] < 10)
        if n == 10_000:
            report.target("train_series overhead at 10 000 points", "< 3 s", f"{overhead:.2f} s", overhead < 3)
        rows.append(
            [
                f"{n:,}",
                f"{wall:.2f}",
                *(f"{t[k]:.2f}" for k in ("load", "validate", "fit", "evaluate", "log")),
                f"{t['register'] + t['promote']:.2f}",
                f"{overhead:.2f}",
                f"{lstsq_time:.2f}",
                f"{rmse:.4f}",
                f"{lstsq_rmse:.4f}",
                f"{rmse / lstsq_rmse - 1:+.2%}",
            ]
        )
    report.table(
        "training",
        "3. Training (train_series, window 24)",
        [
            "points",
            "wall s",
            "load",
            "validate",
            "fit",
            "evaluate",
            "log",
            "register+promote",
            "all but fit s",
            "lstsq s",
            "holdout RMSE",
            "lstsq RMSE",
            "RMSE vs lstsq",
        ],
        rows,
        "After one warm-up run (imports, Prefect's local server). Targets: RMSE within 1 % of least squares; "
        "fit of 1 000 000 points < 10 s; all but fit < 3 s at 10 000 points.",
    )


if __name__ == "__main__":
    run_alone(run)
