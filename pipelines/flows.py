"""The Prefect flows: `train_series` (one series, one task per step) and `retrain_all` (every
series of a config file, concurrently, on a thread pool or a Dask cluster).

Run them ad hoc (`mlts train`), from the API (`POST /train`), or on a cron schedule
(`mlts schedule`). With no PREFECT_API_URL they run in Prefect's ephemeral mode; with one, every
run shows in that server's UI.
"""

import math
import os
import socket
import time
from contextlib import suppress
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from pymongo.database import Database

from core import registry
from core.errors import classify
from core.locks import training_lock
from core.mongo import connect, database_url
from core.registry import CHALLENGER, PROMOTED, REJECTED, Tag, Trigger
from core.settings import Settings, get_settings
from core.training_config import TrainingConfig, load_retrain_config
from pipelines import tasks, tracking
from pipelines.runners import TaskRunnerName
from pipelines.runners import task_runner as make_task_runner
from pipelines.validation import ValidationFailed


def _flow_run_name() -> str:
    config = flow_run.parameters.get("config")
    try:
        config = config if isinstance(config, TrainingConfig) else TrainingConfig.model_validate(config)
    except ValueError:
        return "train-series"
    return f"{config.spec.model_name} w{config.window_size or get_settings().default_window_size}"


@flow(name="train-series", flow_run_name=_flow_run_name, log_prints=True)
def train_series(config: TrainingConfig, run_id: str | None = None, trigger: Trigger = "manual") -> dict[str, Any]:
    """Load a series from MongoDB, validate it, train and evaluate the forecaster, log it all to
    MLflow, register a version and promote it if it beats the champion on the same holdout.
    `run_id` continues an MLflow run created beforehand (the API's asynchronous /train)."""
    settings = get_settings()
    spec = config.spec
    client = registry.client(settings)
    mongo = connect(database_url(settings), settings.mongodb_timeout_ms)
    db = mongo[settings.mongodb_database]
    try:
        label = f"{trigger} (flow run {flow_run.get_name() or flow_run.get_id()})"
        with training_lock(db, spec.model_name, settings.training_lock_ttl_seconds, label):
            if run_id is None:
                experiment_id, run_id = tracking.start_run(
                    client, settings, spec, config.hyperparameters(settings), trigger
                )
            else:
                experiment_id = client.get_run(run_id).info.experiment_id
            return _train(db, client, settings, config, experiment_id, run_id)
    except BaseException as exc:
        if run_id is not None:
            secrets = [settings.mongo_url, settings.mlflow_tracking_uri and settings.tracking_uri]
            error = classify(exc, secrets).message if isinstance(exc, Exception) else type(exc).__name__
            with suppress(Exception):  # MLflow down too: the original error is the one to report
                tracking.finish(client, run_id, "failed", {Tag.ERROR: error})
        raise
    finally:
        mongo.close()


def _train(
    db: Database, client: Any, settings: Settings, config: TrainingConfig, experiment_id: str, run_id: str
) -> dict[str, Any]:
    spec, hp = config.spec, config.hyperparameters(settings)
    fraction = config.holdout_fraction or settings.holdout_fraction
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = round(now - clock, 4)
        clock = now

    frame = tasks.load(db, spec, config.limit)
    lap("load")
    report = tasks.validate(frame, spec, hp, config)
    tracking.log_validation(client, run_id, report)
    lap("validate")
    if not report.success:
        raise ValidationFailed(report)
    data = tasks.split(frame, hp, fraction, settings.max_holdout)
    lap("split")
    model = tasks.fit(data, hp, spec, settings.interval_level)
    lap("fit")
    metrics = tasks.evaluate(model, data)
    lap("evaluate")
    model_uri = tasks.log_run(run_id, config, hp, data, model, metrics, settings, fraction)
    lap("log")
    version = tasks.register(model_uri, run_id, spec, metrics, settings)
    lap("register")
    decision = tasks.promote(run_id, spec, version, model, data, metrics, settings)
    lap("promote")
    tracking.finish(client, run_id, "succeeded", {})
    return {
        "status": "succeeded",
        "series": spec.describe(),
        "model_name": spec.model_name,
        "run_id": run_id,
        "experiment_id": experiment_id,
        "run_url": registry.run_url(settings, experiment_id, run_id),
        "version": version,
        **decision.to_dict(),
        "metrics": {k: v for k, v in metrics.items() if math.isfinite(v)},
        "timings": timings,
    }


def failure_outcome(config: TrainingConfig, error: BaseException | str) -> dict[str, Any]:
    message = classify(error).message if isinstance(error, Exception) else str(error)
    return {
        "status": "failed",
        "series": config.spec.describe(),
        "model_name": config.spec.model_name,
        "decision": "failed",
        "error": message,
    }


@task(name="train-one-series", cache_policy=NO_CACHE)
def train_one(config: TrainingConfig, trigger: Trigger) -> dict[str, Any]:
    """One series of `retrain_all`: its own `train_series` flow run; a failure is reported, not raised."""
    state = train_series(config, trigger=trigger, return_state=True)
    if state.is_completed():
        outcome = state.result()
    else:
        error = state.result(raise_on_failure=False)
        outcome = failure_outcome(config, error if isinstance(error, BaseException) else state.message or "failed")
    outcome["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return outcome


@flow(name="retrain-series-batch")
def _retrain_batch(configs: list[TrainingConfig], trigger: Trigger) -> list[dict[str, Any]]:
    futures = [train_one.submit(config, trigger) for config in configs]
    outcomes = []
    for config, future in zip(configs, futures):
        try:
            outcomes.append(future.result())
        except Exception as exc:  # noqa: BLE001 - a lost worker or a bug: report it, go on
            outcomes.append(failure_outcome(config, exc))
    return outcomes


@flow(name="retrain-all", log_prints=True)
def retrain_all(
    config_path: str | None = None,
    series: list[TrainingConfig] | None = None,
    task_runner: TaskRunnerName = "threads",
    max_workers: int | None = None,
    trigger: Trigger = "manual",
) -> dict[str, Any]:
    """Train every series of the config file (or of `series`) concurrently, on a thread pool or a
    Dask cluster (DASK_SCHEDULER_ADDRESS, else a LocalCluster). One failing series never stops the
    others; the result says which promoted, which kept the champion, which failed and why."""
    logger = get_run_logger()
    configs = load_retrain_config(config_path) if config_path else list(series or [])
    logger.info("retraining %d series on %s", len(configs), task_runner)
    runner = make_task_runner(task_runner, max_workers)
    outcomes = _retrain_batch.with_options(task_runner=runner)(configs, trigger)
    summary = {
        "promoted": [o["model_name"] for o in outcomes if o.get("decision") == PROMOTED],
        "kept_champion": [o["model_name"] for o in outcomes if o.get("decision") == CHALLENGER],
        "rejected": [o["model_name"] for o in outcomes if o.get("decision") == REJECTED],
        "failed": {o["model_name"]: o.get("error", "") for o in outcomes if o.get("status") == "failed"},
        "results": outcomes,
    }
    logger.info(
        "promoted %d, kept the champion for %d, failed %d",
        len(summary["promoted"]),
        len(summary["kept_champion"]),
        len(summary["failed"]),
    )
    return summary
