"""Everything a training writes to MLflow: the run, its params, metrics, plots and reports, and
the model as a pyfunc that `mlflow models serve` can serve.

Runs are addressed by id through MlflowClient, so concurrent trainings in one process (the
thread-pool `retrain_all`) never share MLflow's fluent "active run"; only the pyfunc logging
uses it, inside the thread doing the work (MLflow keeps it thread-local): the logged model
goes in the run's experiment only through it.
"""

import json
import subprocess
import tempfile
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core import registry
from core.registry import Tag, Trigger
from core.series import SeriesSpec
from core.settings import Settings
from ml import model_format
from ml.forecaster import Hyperparameters, PerceptronForecaster
from ml.pyfunc import input_columns
from pipelines import plots
from pipelines.environ import ENVIRON_LOCK
from pipelines.training import Split, data_summary
from pipelines.validation import ValidationReport

if TYPE_CHECKING:
    from mlflow import MlflowClient

_BATCH = 1000
LOSS_POINTS = 100
HORIZON_METRICS = ("rmse", "mae", "coverage")  # logged per forecast step as holdout_<name>_by_step


@lru_cache
def code_version() -> str:
    """The git commit mlts runs from, or its package version outside a checkout."""
    root = Path(__file__).resolve().parent.parent
    if (root / ".git").exists():
        try:
            done = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=5
            )
            if done.returncode == 0 and done.stdout.strip():
                return done.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        return metadata.version("mlts")
    except metadata.PackageNotFoundError:
        return "unknown"


def run_name(spec: SeriesSpec, hp: Hyperparameters, tune: bool = False) -> str:
    """The series, what is trained (a tuning's window is not known yet) and when."""
    what = "tune" if tune else f"w{hp.window_size}"
    return f"{spec.model_name} {what} {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())}"


def start_run(
    client: "MlflowClient",
    settings: Settings,
    spec: SeriesSpec,
    hp: Hyperparameters,
    trigger: Trigger,
    tune: bool = False,
) -> tuple[str, str]:
    """A new run in the series' experiment; returns (experiment id, run id)."""
    experiment = registry.experiment_id(client, spec.model_name, settings)
    run = client.create_run(
        experiment,
        run_name=run_name(spec, hp, tune),
        tags={
            Tag.SERIES: spec.model_name,
            Tag.SPEC: json.dumps(spec.to_dict(), sort_keys=True),
            Tag.STATUS: "running",
            Tag.TRIGGER: trigger,
            "mlflow.note.content": f"Training of the forecaster for {spec.describe()}.",
        },
    )
    return experiment, run.info.run_id


def log_params(client: "MlflowClient", run_id: str, params: dict[str, Any]) -> None:
    from mlflow.entities import Param

    client.log_batch(run_id, params=[Param(k, _param_text(v)) for k, v in params.items()])


def _param_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def training_params(
    spec: SeriesSpec, hp: Hyperparameters, split: Split, settings: Settings, limit: int | None, holdout_fraction: float
) -> dict[str, Any]:
    """The run's params: what a person compares across retrainings. Never a URL or a secret."""
    return {
        "window_size": hp.window_size,
        "epochs": hp.epochs,
        "learning_rate": hp.learning_rate,
        "patience": hp.patience,
        "seed": hp.seed,
        "collection": spec.collection,
        "value_field": spec.value_field,
        "timestamp_field": spec.timestamp_field,
        "filter": dict(spec.filter),
        "limit": limit,
        "mongodb_database": settings.mongodb_database,
        "holdout_fraction": holdout_fraction,
        "interval_level": settings.interval_level,
        "code_version": code_version(),
        **data_summary(split),
    }


def log_metrics(
    client: "MlflowClient",
    run_id: str,
    metrics: dict[str, float],
    loss_history: np.ndarray,
    model_id: str | None,
    by_step: dict[str, np.ndarray] | None = None,
) -> None:
    """Holdout and training metrics (also the logged model's, as MLflow 3 shows them on its
    page), and the training loss as the run's `loss` history: every epoch up to LOSS_POINTS,
    else at most that many, spaced geometrically so the steep first epochs are all there, first
    and last included, each at its epoch (MLflow writes a history row by row: 500 of them were a
    tenth of a fleet's retraining time). The whole curve is drawn in the loss_curve.svg artifact.
    `by_step` (`ml.evaluation.horizon_metrics`) becomes `holdout_rmse_by_step` and the like, one point per
    forecast step, so the run's chart of a step metric shows how the error grows with the horizon.

    Logged after the model: MLflow's log_model otherwise reads back every metric's whole history
    to copy it onto the model, a third of a fleet's retraining time on SQLite."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    rows = [Metric(k, float(v), now, 0, model_id=model_id) for k, v in metrics.items() if np.isfinite(v)]
    kept = _sampled(len(loss_history), LOSS_POINTS)
    rows += [Metric("loss", float(loss_history[i]), now, int(i) + 1) for i in kept if np.isfinite(loss_history[i])]
    for name in HORIZON_METRICS:
        curve = (by_step or {}).get(name, ())
        rows += [Metric(f"holdout_{name}_by_step", float(v), now, h) for h, v in enumerate(curve, 1) if np.isfinite(v)]
    for begin in range(0, len(rows), _BATCH):  # one write for a run's usual few hundred rows
        client.log_batch(run_id, metrics=rows[begin : begin + _BATCH])


def _sampled(count: int, most: int) -> np.ndarray:
    if count <= most:
        return np.arange(count)
    return np.unique(np.geomspace(1, count, most).round().astype(np.int64)) - 1


def log_validation(client: "MlflowClient", run_id: str, report: ValidationReport) -> None:
    client.log_dict(run_id, report.to_dict(), "validation/report.json")
    client.log_text(run_id, report.summary() + "\n", "validation/summary.txt")


def log_artifacts(
    client: "MlflowClient",
    run_id: str,
    spec: SeriesSpec,
    model: PerceptronForecaster,
    split: Split,
    holdout: np.ndarray,
) -> None:
    """The loss curve, the holdout forecast against the actual values, and the model JSON."""
    with tempfile.TemporaryDirectory(prefix="mlts-artifacts-") as folder:
        folder_path = Path(folder)
        plots.loss_curve(model.loss_history, folder_path / "loss_curve.svg", f"{spec.model_name}: training loss")
        start = split.start
        lower, upper = model.bounds(holdout[:, None])
        context = max(0, start - 3 * split.holdout_points)
        plots.holdout_forecast(
            split.timestamps[start:],
            split.values[start:],
            holdout,
            lower[:, 0],
            upper[:, 0],
            folder_path / "holdout_forecast.svg",
            f"{spec.model_name}: holdout, {model.intervals.level:.0%} interval" if model.intervals else spec.model_name,
            context=(split.timestamps[context:start], split.values[context:start]),
        )
        model_format.save(model, folder_path / "model.json")
        for name in ("loss_curve.svg", "holdout_forecast.svg"):
            client.log_artifact(run_id, str(folder_path / name), "plots")
        client.log_artifact(run_id, str(folder_path / "model.json"))


def log_pyfunc(run_id: str, model: PerceptronForecaster, split: Split, settings: Settings) -> tuple[str, str]:
    """The model as an MLflow pyfunc (our numpy code, the JSON as its data), with a signature and
    an input example taken from the series' last windows. Returns the model's URI and id."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    import ml

    w = model.window_size
    columns = input_columns(w)
    recent = np.lib.stride_tricks.sliding_window_view(split.values[-(w + 3) : -1], w)
    example = pd.DataFrame(recent, columns=columns)
    times = None
    if model.calendar is not None:
        times = split.seconds[-len(recent) :]
        example["timestamp"] = times
    signature = infer_signature(example, model.predict(recent, times), params={"horizon": 1})
    with tempfile.TemporaryDirectory(prefix="mlts-pyfunc-") as folder:
        data = model_format.save(model, Path(folder) / model_format.FILE_NAME)
        mlflow.set_tracking_uri(settings.tracking_uri)
        mlflow.set_registry_uri(settings.tracking_uri)
        with ENVIRON_LOCK, mlflow.start_run(run_id=run_id):
            info = mlflow.pyfunc.log_model(
                name=registry.MODEL_ARTIFACT,
                loader_module="ml.pyfunc",
                data_path=str(data),
                code_paths=[str(Path(ml.__file__).parent)],
                signature=signature,
                input_example=example,
                pip_requirements=list(_requirements()),
            )
    return info.model_uri, info.model_id


@lru_cache
def _requirements() -> tuple[str, ...]:
    wanted = ("mlflow", "numpy", "pandas")
    found = []
    for name in wanted:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(name)
    return tuple(found)


def set_run_tags(client: "MlflowClient", run_id: str, tags: dict[str, str]) -> None:
    """All in one write (a tag at a time is one SQL transaction each)."""
    from mlflow.entities import RunTag

    client.log_batch(run_id, tags=[RunTag(key, str(value)[:5000]) for key, value in tags.items()])


def finish(client: "MlflowClient", run_id: str, status: str, tags: dict[str, str]) -> None:
    set_run_tags(client, run_id, {**tags, Tag.STATUS: status})
    client.set_terminated(run_id, "FINISHED" if status == "succeeded" else "FAILED")


def register_version(
    client: "MlflowClient", settings: Settings, model_uri: str, run_id: str, spec: SeriesSpec, rmse: float
) -> str:
    """A new version of the series' registered model (created on first use), described so the
    registry UI says what it is; returns the version number. Through the client, not
    `mlflow.register_model`, which prints "already exists" for every version after the first."""
    from mlflow.exceptions import MlflowException

    name = spec.model_name
    description = f"Perceptron forecaster of {spec.describe()} (one step ahead, recursive for longer horizons)."
    try:
        client.create_registered_model(name, tags={Tag.SERIES: name}, description=description)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    version = client.create_model_version(
        name,
        source=model_uri,
        run_id=run_id,
        tags={Tag.SERIES: name, Tag.RUN_ID: run_id},
        description=f"{description} Holdout RMSE {rmse:.6g}, run {run_id}.",
        model_id=model_id,
        await_creation_for=0,
    )
    if model_id:  # the logged model's page links to its version, as MLflow's own register does
        link = json.dumps([{"name": name, "version": str(version.version)}])
        client.set_logged_model_tags(model_id, {"mlflow.modelVersions": link})
    client.set_tag(run_id, Tag.MODEL_VERSION, str(version.version))
    return str(version.version)
