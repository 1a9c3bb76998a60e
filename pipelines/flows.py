"""The Prefect flows: `train_series` (one series, one task per step) and `retrain_all` (every
series of a config file, concurrently, on a thread pool or a Dask cluster).

Run them ad hoc (`mlts train`), from the API (`POST /train`), or on a cron schedule
(`mlts schedule`). With no PREFECT_API_URL they run in Prefect's ephemeral mode; with one, every
run shows in that server's UI.
"""

import math
import os
import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import SimpleNamespace
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import TerminationSignal
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run, task_run
from pymongo.database import Database
from pymongo.errors import PyMongoError

from core import processes, registry
from core.errors import classify
from core.locks import training_lock
from core.mongo import connect, database_url, ensure_series_index
from core.registry import CHALLENGER, PROMOTED, REJECTED, Tag, Trigger
from core.settings import Settings, get_settings
from core.training_config import TrainingConfig, load_retrain_config
from pipelines import failure_logs, reports, tasks, tracking
from pipelines.runners import TaskRunnerName
from pipelines.runners import task_runner as make_task_runner
from pipelines.validation import ValidationFailed

failure_logs.install()
STEPS = ("load", "validate", "split", "tune", "fit", "evaluate", "log_run", "register", "promote")
STEP_TASKS = SimpleNamespace(**{name: getattr(tasks, name) for name in STEPS})
STEP_FUNCTIONS = SimpleNamespace(**{name: getattr(tasks, name).fn for name in STEPS})


@contextmanager
def without_heartbeat() -> Iterator[None]:
    """Flow runs started inside (in this thread) without Prefect's heartbeat thread, which a
    synchronous flow run joins at its end: a second added to every `mlts train` and `/train`.
    A training that dies still fails its flow run; only a killed process's run stays running
    on a server until someone cancels it."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def send_queued_events(timeout: float = 5.0) -> None:
    """Wait until Prefect has sent the events and logs this process queued (at most `timeout`
    seconds). A short command that exits right after its flow leaves them to Prefect's exit
    handler, which sends them but prints "Still processing items" on the way out."""
    from prefect._internal.concurrency.services import QueueService

    services = list(QueueService._instances.values())
    waiter = threading.Thread(target=lambda: [service.wait_until_empty() for service in services], daemon=True)
    waiter.start()
    waiter.join(timeout)


def _flow_run_name() -> str:
    config = flow_run.parameters.get("config")
    try:
        config = config if isinstance(config, TrainingConfig) else TrainingConfig.model_validate(config)
    except ValueError:
        return "train-series"
    if config.tune:
        return f"{config.spec.model_name} tune"
    return f"{config.spec.model_name} w{config.window_size or get_settings().default_window_size}"


@flow(name="train-series", flow_run_name=_flow_run_name, log_prints=True)
def train_series(config: TrainingConfig, run_id: str | None = None, trigger: Trigger = "manual") -> dict[str, Any]:
    """Load a series from MongoDB, validate it, train and evaluate the forecaster, log it all to
    MLflow, register a version and promote it if it beats the champion on the same holdout.
    `run_id` continues an MLflow run created beforehand (the API's asynchronous /train)."""
    settings = get_settings()
    with connect(database_url(settings), settings.mongodb_timeout_ms) as mongo:
        label = f"{trigger} (flow run {flow_run.get_name() or flow_run.get_id()})"
        return run_training(mongo[settings.mongodb_database], settings, config, trigger, label, run_id, STEP_TASKS)


def run_training(
    db: Database,
    settings: Settings,
    config: TrainingConfig,
    trigger: Trigger,
    label: str,
    run_id: str | None = None,
    steps: Any = None,
) -> dict[str, Any]:
    """One training from the series' lock to its outcome. `steps` are the Prefect tasks (one task
    run per step, for `train_series`) or their plain functions (`retrain_all`'s batches, where a
    task run per step per series would cost more than the training)."""
    spec = config.spec
    client = registry.client(settings)
    try:
        with training_lock(db, spec.model_name, settings.training_lock_ttl_seconds, label):
            if run_id is None:
                experiment_id, run_id = tracking.start_run(
                    client, settings, spec, config.hyperparameters(settings), trigger, config.tune
                )
            else:
                experiment_id = client.get_run(run_id).info.experiment_id
            return _train(db, client, settings, config, experiment_id, run_id, steps or STEP_FUNCTIONS)
    except BaseException as exc:
        if run_id is not None:
            secrets = [settings.mongo_url, settings.mlflow_tracking_uri and settings.tracking_uri]
            error = classify(exc, secrets).message if isinstance(exc, Exception) else type(exc).__name__
            with suppress(Exception):  # MLflow down too: the original error is the one to report
                tracking.finish(client, run_id, "failed", {Tag.ERROR: error})
        raise


def _train(
    db: Database, client: Any, settings: Settings, config: TrainingConfig, experiment_id: str, run_id: str, steps: Any
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

    frame = steps.load(db, spec, config.limit)
    lap("load")
    report = steps.validate(frame, spec, hp, config, settings)
    tracking.log_validation(client, run_id, report)
    lap("validate")
    if not report.success:
        raise ValidationFailed(report)
    data = steps.split(frame, hp, config, settings)
    lap("split")
    selected = steps.tune(run_id, data, hp, spec, settings) if config.tune else None
    model = steps.fit(data, hp, spec, settings.interval_level, selected)
    lap("fit")
    metrics = steps.evaluate(model, data)
    lap("evaluate")
    model_uri = steps.log_run(run_id, config, hp, data, model, metrics, settings, fraction)
    lap("log")
    version = steps.register(model_uri, run_id, spec, metrics, settings)
    lap("register")
    decision = steps.promote(run_id, spec, version, model, data, metrics, settings)
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
        "tuned": config.tune,
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


@task(name="train-batch", cache_policy=NO_CACHE)
def train_batch(configs: list[TrainingConfig], trigger: Trigger) -> list[dict[str, Any]]:
    """Several series of `retrain_all`, one after the other on one worker, each with its own
    MLflow run, version and decision; a failure is reported in its outcome, never raised."""
    settings = get_settings()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    label = f"{trigger} (retrain-all batch, task run {task_run.get_name() or task_run.get_id()})"
    outcomes = []
    with connect(database_url(settings), settings.mongodb_timeout_ms) as mongo:
        db = mongo[settings.mongodb_database]
        for config in configs:
            if processes.stopping.is_set():
                outcomes.append(failure_outcome(config, "not trained: the process was asked to stop"))
                continue
            try:
                outcome = run_training(db, settings, config, trigger, label)
            except Exception as exc:  # noqa: BLE001 - one series failing never stops the others
                outcome = failure_outcome(config, exc)
            outcomes.append({**outcome, "worker": worker})
    return outcomes


def batches(configs: list[TrainingConfig], workers: int, most: int = 50) -> list[list[TrainingConfig]]:
    """Contiguous batches, about four per worker so a slow one does not hold the end back, and
    never so many task runs that the orchestrator pays more than the training."""
    if not configs:
        return []
    size = max(1, min(most, math.ceil(len(configs) / (4 * max(workers, 1)))))
    return [configs[i : i + size] for i in range(0, len(configs), size)]


@flow(name="retrain-all", log_prints=True)
def retrain_all(
    config_path: str | None = None,
    series: list[TrainingConfig] | None = None,
    task_runner: TaskRunnerName = "threads",
    max_workers: int | None = None,
    trigger: Trigger = "manual",
) -> dict[str, Any]:
    """Train every series of the config file (or of `series`) concurrently, in batches on a thread
    pool or a Dask cluster (DASK_SCHEDULER_ADDRESS, else a LocalCluster). One failing series never
    stops the others; the result, and the flow run's `retrain-summary` table artifact, say which
    were promoted, which kept the champion, which failed and why."""
    logger = get_run_logger()
    settings = get_settings()
    configs = load_retrain_config(config_path) if config_path else list(series or [])
    registry.initialise_store(settings)  # before any worker: a fresh store's tables are created once
    _index_series(settings, configs)
    runner, workers = make_task_runner(task_runner, max_workers)
    planned = batches(configs, workers)
    logger.info(
        "retraining %d series in %d batches on %s (%d workers)", len(configs), len(planned), task_runner, workers
    )
    outcomes = _run_batches.with_options(task_runner=runner)(planned, trigger)
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
    reports.summary_artifact(outcomes)
    return summary


def _index_series(settings: Settings, configs: list[TrainingConfig]) -> None:
    """One index per collection and filter keys, before thousands of series read through it."""
    shapes = {(c.collection, tuple(sorted(c.filter)), c.timestamp_field): c.spec for c in configs}
    with connect(database_url(settings), settings.mongodb_timeout_ms) as mongo, suppress(PyMongoError):
        db = mongo[settings.mongodb_database]  # a read-only user may not create indexes: reads still work
        present = set(db.list_collection_names())
        for spec in shapes.values():
            if spec.collection in present:  # creating an index would create a missing collection
                ensure_series_index(db, spec)


@flow(name="retrain-batches")
def _run_batches(planned: list[list[TrainingConfig]], trigger: Trigger) -> list[dict[str, Any]]:
    progress = reports.Progress(sum(len(batch) for batch in planned))
    processes.stopping.clear()  # a process that serves runs may start one after an interrupted one
    futures = {train_batch.submit(batch, trigger): index for index, batch in enumerate(planned)}
    done: dict[int, list[dict[str, Any]]] = {}
    try:
        for future in _as_completed(list(futures)):
            index = futures[future]
            try:
                done[index] = future.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker or a bug: report its series, go on
                done[index] = [failure_outcome(config, exc) for config in planned[index]]
            progress.advance(len(planned[index]))
    except (KeyboardInterrupt, SystemExit, TerminationSignal):
        processes.stopping.set()  # the pool's shutdown then waits for one series per worker, not whole batches
        raise
    return [outcome for index in range(len(planned)) for outcome in done[index]]


def _as_completed(futures: list[PrefectFuture]) -> Iterator[PrefectFuture]:
    """The futures as they finish, waiting a second at a time: an untimed wait (Prefect's
    `as_completed`) holds off a SIGTERM or Ctrl-C until a whole batch has finished."""
    finished: queue.SimpleQueue[PrefectFuture] = queue.SimpleQueue()
    for future in futures:
        future.add_done_callback(finished.put)
    for _ in futures:
        while True:
            try:
                yield finished.get(timeout=1.0)
                break
            except queue.Empty:
                continue
