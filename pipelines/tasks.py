"""The steps of a training as Prefect tasks: thin, named, each calling one plain function of
`pipelines.training`, `pipelines.validation`, `pipelines.tracking` or `pipelines.promotion`, so
each shows in the Prefect UI and logs under its name."""

from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pymongo.database import Database
from pymongo.errors import ConnectionFailure

from core import registry
from core.mongo import read_series
from core.registry import REJECTED
from core.series import SeriesSpec
from core.settings import Settings
from core.training_config import TrainingConfig
from ml import holdout_predictions
from ml.evaluation import horizon_metrics
from ml.forecaster import Hyperparameters, PerceptronForecaster
from ml.selection import MIN_POINTS
from ml.windows import MIN_HOLDOUT, minimum_points
from pipelines import datasets, promotion, tracking, tuning
from pipelines.training import Split, evaluate_forecaster, fit_forecaster, split_series
from pipelines.validation import ValidationReport, validate_series

CHILD_RUN_THREADS = 4  # round trips to an MLflow server at once when a tuning logs its candidates


def _retry_on_connection_error(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except ConnectionFailure:
        return True
    except Exception:  # noqa: BLE001 - anything else is not worth retrying
        return False
    return False


@task(
    name="load",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=[1, 2, 4],
    retry_condition_fn=_retry_on_connection_error,
)
def load(db: Database, spec: SeriesSpec, limit: int | None) -> pd.DataFrame:
    frame = read_series(db, spec, limit)
    get_run_logger().info("loaded %d points of %s", len(frame), spec.describe())
    return frame


@task(name="validate", cache_policy=NO_CACHE)
def validate(
    frame: pd.DataFrame, spec: SeriesSpec, hp: Hyperparameters, config: TrainingConfig, settings: Settings
) -> ValidationReport:
    gaps, max_gap = config.gap_policy(settings)
    named_window, needed, _ = _room(hp, config)
    report = validate_series(
        frame,
        spec,
        named_window,
        needed,
        (config.value_min, config.value_max),
        gaps,
        max_gap,
    )
    get_run_logger().info(report.summary())
    return report


@task(name="split", cache_policy=NO_CACHE)
def split(frame: pd.DataFrame, hp: Hyperparameters, config: TrainingConfig, settings: Settings) -> Split:
    gaps, max_gap = config.gap_policy(settings)
    fraction = config.holdout_fraction or settings.holdout_fraction
    result = split_series(frame, _room(hp, config)[2], fraction, settings.max_holdout, gaps, max_gap)
    repaired = f" ({result.filled} points filled in gaps)" if result.filled else ""
    dropped = f" (dropped {result.dropped} points before the last long gap)" if result.dropped else ""
    get_run_logger().info(
        "train on %d points, hold out the last %d%s%s", result.start, result.holdout_points, repaired, dropped
    )
    return result


def _room(hp: Hyperparameters, config: TrainingConfig) -> tuple[int | None, int, int]:
    """What the series must hold besides its holdout: the window validation names (None for a
    tuning), the points it asks for, and the window the split leaves room for. A tuning needs only
    what its smallest unit needs; the search keeps to what the training part can fit."""
    if config.tune:
        return None, MIN_POINTS + MIN_HOLDOUT, 1
    return hp.window_size, minimum_points(hp.effective_window, MIN_HOLDOUT), hp.effective_window


@task(name="tune", cache_policy=NO_CACHE)
def tune(run_id: str, data: Split, hp: Hyperparameters, spec: SeriesSpec, settings: Settings) -> PerceptronForecaster:
    selection = tuning.tune_forecaster(data, hp, settings.tune_time_budget, settings.tune_max_candidates)
    threads = 1 if registry.is_local_store(settings.tracking_uri) else CHILD_RUN_THREADS
    client = registry.client(settings)
    tuning.log_selection(client, run_id, spec.model_name, selection, settings.tune_child_runs, threads)
    get_run_logger().info(
        "tuned on %d of %d candidates in %.2g s: %s (%s)",
        len(selection.candidates),
        selection.grid_size,
        selection.seconds,
        selection.strategy,
        selection.reason,
    )
    return selection.model


@task(name="fit", cache_policy=NO_CACHE)
def fit(
    data: Split,
    hp: Hyperparameters,
    spec: SeriesSpec,
    interval_level: float,
    selected: PerceptronForecaster | None = None,
) -> PerceptronForecaster:
    logger = get_run_logger()
    model = fit_forecaster(data, hp, spec, interval_level, selected=selected)
    logger.info("trained %d epochs (of at most %d), final loss %.6g", model.epochs_trained, hp.epochs, model.final_loss)
    return model


@task(name="evaluate", cache_policy=NO_CACHE)
def evaluate(model: PerceptronForecaster, data: Split) -> dict[str, float]:
    metrics = evaluate_forecaster(model, data)
    get_run_logger().info(
        "holdout RMSE %.6g (naive %.6g), MAE %.6g, MASE %.4g",
        metrics["rmse"],
        metrics["naive_rmse"],
        metrics["mae"],
        metrics["mase"],
    )
    return metrics


@task(name="log", cache_policy=NO_CACHE)
def log_run(
    run_id: str,
    config: TrainingConfig,
    hp: Hyperparameters,
    data: Split,
    model: PerceptronForecaster,
    metrics: dict[str, float],
    settings: Settings,
    fraction: float,
) -> str:
    client = registry.client(settings)
    spec = config.spec
    params = tracking.training_params(spec, hp, data, settings, config.limit, fraction)
    tracking.log_params(client, run_id, {**params, "tune": config.tune})
    datasets.log_dataset(client, run_id, spec, data, settings)
    tracking.log_artifacts(
        client, run_id, spec, model, data, holdout_predictions(model, data.values, data.start, data.seconds)
    )
    model_uri, model_id = tracking.log_pyfunc(run_id, model, data, settings)
    by_step = horizon_metrics(model, data.values, data.start, times=data.seconds)
    tracking.log_metrics(client, run_id, metrics, model.loss_history, model_id, by_step)
    get_run_logger().info("logged params, metrics, plots and the pyfunc model to MLflow run %s", run_id)
    return model_uri


@task(name="register", cache_policy=NO_CACHE)
def register(model_uri: str, run_id: str, spec: SeriesSpec, metrics: dict[str, float], settings: Settings) -> str:
    version = tracking.register_version(registry.client(settings), settings, model_uri, run_id, spec, metrics["rmse"])
    get_run_logger().info("registered %s version %s", spec.model_name, version)
    return version


@task(name="promote", cache_policy=NO_CACHE)
def promote(
    run_id: str,
    spec: SeriesSpec,
    version: str,
    model: PerceptronForecaster,
    data: Split,
    metrics: dict[str, float],
    settings: Settings,
) -> promotion.Decision:
    client = registry.client(settings)
    name = spec.model_name
    problem, model_uri = promotion.verify_registered(client, settings, name, version, model, data)
    if problem is not None:
        decision = promotion.Decision(REJECTED, problem, metrics["rmse"])
    else:
        decision = promotion.decide(client, settings, name, version, metrics["rmse"], data, model)
    promotion.apply(client, settings, name, version, decision, run_id, f"train_series run {run_id}", model_uri)
    get_run_logger().info("%s version %s: %s, %s", name, version, decision.decision, decision.reason)
    return decision
