"""Tuning: choose the linear unit a series is served with by rolling-origin backtest on its
training part (`ml.selection`), and show the search in MLflow as child runs of the training run,
one per candidate, so the UI's chart and parallel-coordinates views line them up.

The holdout is never passed in: it stays the honest score the champion gate compares on."""

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from mlflow.entities import Metric, Param, RunTag

from core.registry import Tag
from ml.forecaster import Hyperparameters
from ml.selection import CandidateScore, Selection, select
from pipelines.training import Split

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

PARENT_TAG = "mlflow.parentRunId"  # MLflow's own: nests a run under another in the UI


def tune_forecaster(split: Split, hp: Hyperparameters, time_budget: float, max_candidates: int) -> Selection:
    return select(
        split.values[: split.start],
        split.step_seconds,
        base=hp,
        max_candidates=max_candidates,
        time_budget=time_budget,
        seed=hp.seed,
        times=split.seconds[: split.start],
    )


def log_selection(
    client: "MlflowClient",
    run_id: str,
    model_name: str,
    selection: Selection,
    child_runs: bool = True,
    threads: int = 1,
) -> None:
    """A child run per candidate (its settings as params, its backtest as metrics) unless
    `child_runs` is off, the choice as params and metrics of the training run, and the whole
    report, every candidate's score included, as an artifact. Against an MLflow server each
    child is three round trips, so `threads` of them go at once."""
    experiment = client.get_run(run_id).info.experiment_id
    chosen = {id(member) for member in selection.members}
    now = int(time.time() * 1000)
    ranked = sorted(selection.candidates, key=lambda c: c.rmse)

    def log_child(rank: int, candidate: CandidateScore) -> None:
        child = client.create_run(
            experiment,
            run_name=f"candidate {rank}: {candidate.hyperparameters.describe()}",
            tags={PARENT_TAG: run_id, Tag.SERIES: model_name, "mlts.kind": "tuning-candidate"},
        ).info.run_id
        metrics = [Metric(k, float(v), now, 0) for k, v in candidate.metrics.items() if v == v]
        params = [Param(k, str(v)) for k, v in candidate.params.items()]
        tags = [RunTag("mlts.chosen", "true" if id(candidate) in chosen else "false")]
        client.log_batch(child, metrics=metrics, params=params, tags=tags)
        client.set_terminated(child)

    if child_runs:
        with ThreadPoolExecutor(max(1, threads)) as pool:
            list(pool.map(log_child, range(1, len(ranked) + 1), ranked))
    report = {
        **selection.report(),
        "candidates": [{**c.params, "backtest_rmse_mean": c.rmse, "chosen": id(c) in chosen} for c in ranked],
    }
    client.log_batch(
        run_id,
        params=[
            Param("tune_strategy", selection.strategy),
            Param("tuned_window", str(selection.model.window_size)),
            Param("tune_candidates", f"{len(selection.candidates)} of {selection.grid_size}"),
        ],
        metrics=[
            Metric(f"backtest_rmse_{strategy}", float(value), now, 0)
            for strategy, value in selection.strategy_rmse.items()
            if value == value
        ],
    )
    client.log_text(run_id, json.dumps(report, indent=2, default=str), "tuning/selection.json")
    log.info("%s: %s", model_name, selection.reason)
