"""The Prefect flows: `train_series` (one series, one task per step) and `retrain_all` (every
series of a config file, concurrently, on a thread pool or a Dask cluster).

Run them ad hoc (`mlts train`), from the API (`POST /train`), or on a cron schedule
(`mlts schedule`). With no PREFECT_API_URL they run in Prefect's ephemeral mode; with one, every
run shows in that server's UI.
"""

import logging
import math
import os
import socket
import time
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from pymongo.database import Database
from pymongo.errors import ConnectionFailure

from core import registry
from core.masking import mask_text
from core.mongo import connect, database_url, read_series
from core.series import SeriesSpec
from core.settings import Settings, get_settings
from ml.forecaster import Hyperparameters, PerceptronForecaster
from ml.windows import MIN_HOLDOUT, minimum_points
from pipelines import locks, promotion, tracking
from pipelines.config import TrainingConfig
from pipelines.runners import TaskRunnerName
from pipelines.runners import task_runner as make_task_runner
from pipelines.training import Split, evaluate_forecaster, fit_forecaster, split_series
from pipelines.validation import ValidationFailed, ValidationReport, validate_series

log = logging.getLogger(__name__)


def _retry_on_connection_error(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except ConnectionFailure:
        return True
    except Exception:  # noqa: BLE001 - anything else is not worth retrying
        return False
    return False


@task(name="load", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 2, 4], retry_condition_fn=_retry_on_connection_error)
def load(db: Database, spec: SeriesSpec, limit: int | None):
    frame = read_series(db, spec, limit)
    get_run_logger().info("loaded %d points of %s", len(frame), spec.describe())
    return frame


@task(name="validate", cache_policy=NO_CACHE)
def validate(frame, spec: SeriesSpec, hp: Hyperparameters, config: TrainingConfig) -> ValidationReport:
    report = validate_series(
        frame, spec, hp.window_size, minimum_points(hp.window_size, MIN_HOLDOUT), (config.value_min, config.value_max)
    )
    get_run_logger().info(report.summary())
    return report


@task(name="split", cache_policy=NO_CACHE)
def split(frame, hp: Hyperparameters, fraction: float, max_holdout: int) -> Split:
    result = split_series(frame, hp.window_size, fraction, max_holdout)
    get_run_logger().info("train on %d points, hold out the last %d", result.start, result.holdout_points)
    return result


@task(name="fit", cache_policy=NO_CACHE)
def fit(data: Split, hp: Hyperparameters, spec: SeriesSpec, interval_level: float) -> PerceptronForecaster:
    logger = get_run_logger()
    model = fit_forecaster(data, hp, spec, interval_level)
    logger.info("trained %d epochs (of at most %d), final loss %.6g", model.epochs_trained, hp.epochs, model.final_loss)
    return model


@task(name="evaluate", cache_policy=NO_CACHE)
def evaluate(model: PerceptronForecaster, data: Split) -> dict[str, float]:
    metrics = evaluate_forecaster(model, data)
    get_run_logger().info(
        "holdout RMSE %.6g (naive %.6g), MAE %.6g, MASE %.4g",
        metrics["rmse"], metrics["naive_rmse"], metrics["mae"], metrics["mase"],
    )  # fmt: skip
    return metrics


@task(name="log", cache_policy=NO_CACHE)
def log_run(
    run_id: str, spec: SeriesSpec, hp: Hyperparameters, config: TrainingConfig, data: Split,
    model: PerceptronForecaster, metrics: dict[str, float], settings: Settings, fraction: float,
) -> str:  # fmt: skip
    from ml import holdout_predictions

    client = registry.client(settings)
    tracking.log_params(client, run_id, tracking.training_params(spec, hp, data, settings, config.limit, fraction))
    tracking.log_metrics(client, run_id, metrics, model.loss_history)
    tracking.log_artifacts(client, run_id, spec, model, data, holdout_predictions(model, data.values, data.start))
    model_uri = tracking.log_pyfunc(run_id, model, data, settings)
    get_run_logger().info("logged params, metrics, plots and the pyfunc model to MLflow run %s", run_id)
    return model_uri


@task(name="register", cache_policy=NO_CACHE)
def register(model_uri: str, run_id: str, spec: SeriesSpec, metrics: dict[str, float], settings: Settings) -> str:
    import mlflow
    from mlflow.exceptions import MlflowException

    client = registry.client(settings)
    name = spec.model_name
    description = f"Perceptron forecaster of {spec.describe()} (one step ahead, recursive for longer horizons)."
    try:
        client.create_registered_model(name, tags={registry.TAG_SERIES: name}, description=description)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    mlflow.set_registry_uri(settings.tracking_uri)
    version = mlflow.register_model(model_uri, name, tags={registry.TAG_SERIES: name, "mlts.run_id": run_id})
    client.update_model_version(
        name, version.version, description=f"{description} Holdout RMSE {metrics['rmse']:.6g}, run {run_id}."
    )
    get_run_logger().info("registered %s version %s", name, version.version)
    return str(version.version)


@task(name="promote", cache_policy=NO_CACHE)
def promote(
    run_id: str, spec: SeriesSpec, version: str, model: PerceptronForecaster, data: Split,
    metrics: dict[str, float], settings: Settings,
) -> promotion.Decision:  # fmt: skip
    client = registry.client(settings)
    name = spec.model_name
    problem = promotion.verify_registered(client, settings, name, version, model, data)
    if problem is not None:
        decision = promotion.Decision(promotion.REJECTED, problem, metrics["rmse"])
    else:
        decision = promotion.decide(client, settings, name, version, metrics["rmse"], data)
    promotion.apply(client, settings, name, version, decision, run_id, by=f"train_series run {run_id}")
    get_run_logger().info("%s version %s: %s, %s", name, version, decision.decision, decision.reason)
    return decision


def _flow_run_name() -> str:
    params = flow_run.parameters
    try:
        name = SeriesSpec(params["collection"], params.get("value_field", "value"), filter=params.get("filter") or {}).model_name
    except (KeyError, ValueError):
        name = str(params.get("collection"))
    return f"{name} w{params.get('window_size') or get_settings().default_window_size}"


@flow(name="train-series", flow_run_name=_flow_run_name, log_prints=True)
def train_series(
    collection: str,
    value_field: str = "value",
    timestamp_field: str = "timestamp",
    filter: dict[str, Any] | None = None,
    limit: int | None = None,
    window_size: int | None = None,
    epochs: int | None = None,
    learning_rate: float | None = None,
    patience: int | None = None,
    holdout_fraction: float | None = None,
    value_min: float | None = None,
    value_max: float | None = None,
    run_id: str | None = None,
    source: str = "flow",
) -> dict[str, Any]:
    """Load a series from MongoDB, validate it, train and evaluate the forecaster, log it all to
    MLflow, register a version and promote it if it beats the champion on the same holdout.
    `run_id` continues an MLflow run created beforehand (the API's asynchronous /train)."""
    settings = get_settings()
    config = TrainingConfig(
        collection=collection, value_field=value_field, timestamp_field=timestamp_field, filter=filter or {},
        limit=limit, window_size=window_size, epochs=epochs, learning_rate=learning_rate, patience=patience,
        holdout_fraction=holdout_fraction, value_min=value_min, value_max=value_max,
    )  # fmt: skip
    spec, hp = config.spec, config.hyperparameters(settings)
    fraction = config.holdout_fraction or settings.holdout_fraction
    client = registry.client(settings)
    mongo = connect(database_url(settings), settings.mongodb_timeout_ms)
    db = mongo[settings.mongodb_database]
    try:
        label = f"{source} (flow run {flow_run.get_name() or flow_run.get_id()})"
        with locks.training_lock(db, spec.model_name, settings.training_lock_ttl_seconds, label):
            if run_id is None:
                experiment_id, run_id = tracking.start_run(client, settings, spec, hp, source)
            else:
                experiment_id = client.get_run(run_id).info.experiment_id
            try:
                return _train(db, client, settings, config, spec, hp, fraction, experiment_id, run_id)
            except BaseException as exc:
                secrets = [settings.mongo_url, settings.mlflow_tracking_uri and settings.tracking_uri]
                tracking.finish(client, run_id, "failed", {tracking.TAG_ERROR: mask_text(str(exc) or type(exc).__name__, secrets)})
                raise
    finally:
        mongo.close()


def _train(
    db: Database, client: Any, settings: Settings, config: TrainingConfig, spec: SeriesSpec, hp: Hyperparameters,
    fraction: float, experiment_id: str, run_id: str,
) -> dict[str, Any]:  # fmt: skip
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = round(now - clock, 4)
        clock = now

    frame = load(db, spec, config.limit)
    lap("load")
    report = validate(frame, spec, hp, config)
    tracking.log_validation(client, run_id, report)
    lap("validate")
    if not report.success:
        raise ValidationFailed(report)
    data = split(frame, hp, fraction, settings.max_holdout)
    lap("split")
    model = fit(data, hp, spec, settings.interval_level)
    lap("fit")
    metrics = evaluate(model, data)
    lap("evaluate")
    model_uri = log_run(run_id, spec, hp, config, data, model, metrics, settings, fraction)
    lap("log")
    version = register(model_uri, run_id, spec, metrics, settings)
    client.set_tag(run_id, tracking.TAG_VERSION, version)
    lap("register")
    decision = promote(run_id, spec, version, model, data, metrics, settings)
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
    return {
        "status": "failed",
        "series": config.spec.describe(),
        "model_name": config.spec.model_name,
        "decision": "failed",
        "error": str(error),
    }


@task(name="train-one-series", cache_policy=NO_CACHE)
def train_one(config: dict[str, Any]) -> dict[str, Any]:
    """One series of `retrain_all`: its own `train_series` flow run; a failure is reported, not raised."""
    parsed = TrainingConfig(**config)
    state = train_series(**config, source="retrain_all", return_state=True)
    if state.is_completed():
        outcome = state.result()
    else:
        error = state.result(raise_on_failure=False)
        outcome = failure_outcome(parsed, error if isinstance(error, BaseException) else state.message or "failed")
    outcome["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return outcome


@flow(name="retrain-series-batch")
def _retrain_batch(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    futures = [train_one.submit(config) for config in configs]
    outcomes = []
    for config, future in zip(configs, futures):
        try:
            outcomes.append(future.result())
        except Exception as exc:  # noqa: BLE001 - a lost worker or a bug: report it, go on
            outcomes.append(failure_outcome(TrainingConfig(**config), exc))
    return outcomes


@flow(name="retrain-all", log_prints=True)
def retrain_all(
    config_path: str | None = None,
    series: list[dict[str, Any]] | None = None,
    task_runner: TaskRunnerName = "threads",
    max_workers: int | None = None,
) -> dict[str, Any]:
    """Train every series of the config file (or of `series`) concurrently, on a thread pool or a
    Dask cluster (DASK_SCHEDULER_ADDRESS, else a LocalCluster). One failing series never stops the
    others; the result says which promoted, which kept the champion, which failed and why."""
    from pipelines.config import RetrainConfig, load_retrain_config

    logger = get_run_logger()
    configs = load_retrain_config(config_path) if config_path else RetrainConfig(series=series or []).trainings()
    logger.info("retraining %d series on %s", len(configs), task_runner)
    runner = make_task_runner(task_runner, max_workers)
    outcomes = _retrain_batch.with_options(task_runner=runner)([c.model_dump(exclude_none=True) for c in configs])
    summary = {
        "promoted": [o["model_name"] for o in outcomes if o.get("decision") == promotion.PROMOTED],
        "kept_champion": [o["model_name"] for o in outcomes if o.get("decision") == promotion.CHALLENGER],
        "rejected": [o["model_name"] for o in outcomes if o.get("decision") == promotion.REJECTED],
        "failed": {o["model_name"]: o.get("error", "") for o in outcomes if o.get("status") == "failed"},
        "results": outcomes,
    }
    logger.info(
        "promoted %d, kept the champion for %d, failed %d",
        len(summary["promoted"]), len(summary["kept_champion"]), len(summary["failed"]),
    )  # fmt: skip
    return summary
