"""The MLflow registry as mlts uses it: names, aliases, tags, and reading a version's model back.

Both the training flows (which write) and the API (which only reads) go through here, so the
two agree on what a champion is and where its model JSON lives.
"""

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse, urlsplit, urlunsplit
from urllib.request import url2pathname

from core.settings import Settings
from core.sqlite_store import tune_sqlite_connections

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

    from ml.forecaster import PerceptronForecaster

MODEL_ARTIFACT = "model"
MODEL_JSON = "data/model.json"

Trigger = Literal["manual", "schedule", "api", "drift", "tune"]

# What the champion gate decided for a version (the value of Tag.DECISION).
PROMOTED = "promoted"
CHALLENGER = "challenger"
REJECTED = "rejected"


class Tag:
    """Every tag mlts writes on runs, versions and registered models: its whole vocabulary
    (plain strings, as MLflow's clients want them)."""

    SERIES = "mlts.series"  # the registered model a run, experiment or version belongs to
    SPEC = "mlts.spec"  # the series as JSON: collection, fields, filter
    TRIGGER = "mlts.trigger"  # what started the training: manual, schedule, api, drift or tune
    STATUS = "mlts.status"  # running, succeeded or failed
    ERROR = "mlts.error"  # why a training failed
    RUN_ID = "mlts.run_id"  # on a version: the run that trained it
    MODEL_VERSION = "mlts.model_version"  # on a run: the version it registered
    DECISION = "mlts.decision"  # promoted, challenger or rejected
    REASON = "mlts.reason"
    RMSE = "mlts.rmse"
    CHAMPION_RMSE = "mlts.champion_rmse"
    CHAMPION_VERSION = "mlts.champion_version"
    EVIDENCE = "mlts.evidence"  # what decided: holdout, backtest, live (served forecasts) or manual
    BACKTEST = "mlts.backtest"  # with backtest evidence: JSON, per fold both versions' RMSE
    PROMOTED_AT = "mlts.promoted_at"
    PROMOTED_BY = "mlts.promoted_by"
    TRAINING_RUN_ID = "mlts.training_run_id"  # on an `mlflow run` project run: the training it started
    MODEL = "mlts.model"  # on a project run: "name version N"
    ALIAS_PREFIX = "mlts.alias."  # on a registered model, + alias: JSON of the version behind it (see alias_summary)


def client(settings: Settings) -> "MlflowClient":
    from mlflow import MlflowClient

    tune_sqlite_connections()
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


def initialise_store(settings: Settings) -> None:
    """Create a fresh store's tables now, in this process: workers that each met an empty SQLite
    store at once would race through MLflow's schema migration and could leave it half made."""
    store = client(settings)
    store.search_experiments(max_results=1)
    store.search_registered_models(max_results=1)


def is_local_store(tracking_uri: str) -> bool:
    return tracking_uri.startswith(("sqlite:", "file:", "/")) or "://" not in tracking_uri


def experiment_id(mlflow_client: "MlflowClient", name: str, settings: Settings) -> str:
    """One experiment per series, created on first use; on a local store its artifacts go under
    MLTS_HOME, on a server wherever the server keeps them."""
    existing = mlflow_client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location = None
    if is_local_store(settings.tracking_uri):
        location = (settings.artifact_root / name).as_uri()
    from mlflow.exceptions import MlflowException

    try:
        return mlflow_client.create_experiment(name, artifact_location=location, tags={Tag.SERIES: name})
    except MlflowException:
        existing = mlflow_client.get_experiment_by_name(name)
        if existing is None:
            raise
        return existing.experiment_id


def run_url(settings: Settings, experiment_id: str, run_id: str) -> str | None:
    """The run's page in the MLflow UI (MLFLOW_UI_URL, or the tracking server when it is http)."""
    base = settings.mlflow_ui_url
    if base is None and settings.tracking_uri.startswith(("http://", "https://")):
        parts = urlsplit(settings.tracking_uri)
        base = urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""), parts.path, "", ""))
    if base is None:
        return None
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def version_by_alias(mlflow_client: "MlflowClient", name: str, alias: str) -> "ModelVersion | None":
    from mlflow.exceptions import MlflowException

    try:
        return mlflow_client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def model_json_uri(mlflow_client: "MlflowClient", version: "ModelVersion") -> str:
    """Where a version's model JSON lives: inside the logged model's artifacts (MLflow 3 keeps
    those apart from the run's), or under the version's source for older registrations."""
    location = version.source
    model_id = getattr(version, "model_id", None)
    if not model_id and location.startswith("models:/m-") and location.count("/") == 1:
        model_id = location.removeprefix("models:/")
    if model_id:
        location = mlflow_client.get_logged_model(model_id).artifact_location
    return f"{location.rstrip('/')}/{MODEL_JSON}"


def load_version(mlflow_client: "MlflowClient", version: "ModelVersion") -> "PerceptronForecaster":
    """The version's model JSON, downloaded and strictly checked (ModelFormatError if broken)."""
    return load_model_json(mlflow_client, model_json_uri(mlflow_client, version))


def load_model_json(mlflow_client: "MlflowClient", uri: str) -> "PerceptronForecaster":
    """A model JSON at `uri` (see `model_json_uri`), downloaded and strictly checked. A local
    file is read as it is: MLflow's artifact machinery costs a second of imports at first use."""
    from ml import model_format

    if uri.startswith("file://"):
        return model_format.load(Path(url2pathname(urlparse(uri).path)))
    import mlflow.artifacts

    with tempfile.TemporaryDirectory(prefix="mlts-model-") as folder:
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=uri,
            dst_path=folder,
            tracking_uri=mlflow_client.tracking_uri,
        )
        return model_format.load(Path(path))


@dataclass(frozen=True)
class Promoted:
    name: str
    version: str
    run_id: str | None
    promoted_at: str
    model_uri: str | None = None  # where its model JSON is, when the alias summary says


def promoted_models(mlflow_client: "MlflowClient", alias: str) -> list[Promoted]:
    """Every registered model with a version behind `alias`, most recently promoted first."""
    return aliased_models(mlflow_client, (alias,))[alias]


def aliased_models(mlflow_client: "MlflowClient", aliases: tuple[str, ...]) -> dict[str, list[Promoted]]:
    """For each alias, every registered model with a version behind it, most recently promoted first.

    One paged search for a fleet: mlts writes a summary of the version behind each alias on the
    registered model itself (tag mlts.alias.<alias>), so a version is fetched only when its alias
    was moved by other means."""
    found: dict[str, list[Promoted]] = {alias: [] for alias in aliases}
    for model in all_registered_models(mlflow_client):
        for alias in aliases:
            number = (model.aliases or {}).get(alias)
            if number is None:
                continue
            summary = alias_summary(model.tags, alias)
            if summary.get("version") == str(number):
                entry = Promoted(
                    model.name,
                    str(number),
                    summary.get("run_id"),
                    summary.get("promoted_at", ""),
                    summary.get("model_uri"),
                )
            else:
                version = mlflow_client.get_model_version(model.name, str(number))
                promoted_at = (version.tags or {}).get(Tag.PROMOTED_AT) or _iso(version.creation_timestamp)
                entry = Promoted(model.name, str(number), version.run_id, promoted_at)
            found[alias].append(entry)
    return {alias: sorted(entries, key=lambda p: p.promoted_at, reverse=True) for alias, entries in found.items()}


def alias_summary(tags: dict[str, str] | None, alias: str) -> dict[str, str]:
    """What a registered model's tag says of the version behind `alias`; {} when absent or unreadable."""
    try:
        summary = json.loads((tags or {}).get(Tag.ALIAS_PREFIX + alias, "{}"))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in summary.items() if v is not None} if isinstance(summary, dict) else {}


def writer(mlflow_client: "MlflowClient") -> Any:
    """What mlts writes its own tags and aliases through: the registry client under MlflowClient.

    MlflowClient's setters first read the whole registered model (every version, tag and alias)
    to check it is not a prompt, once per call: ten milliseconds and more per tag on SQLite, the
    most of a fleet's monitoring and a tenth of its retraining. mlts writes only to the models it
    registered. Same methods and arguments; falls back to the client if MLflow moves them."""
    registry_client = getattr(mlflow_client, "_get_registry_client", None)
    return registry_client() if registry_client is not None else mlflow_client


def record_alias(
    mlflow_client: "MlflowClient",
    name: str,
    alias: str,
    version: str,
    run_id: str | None,
    at: str,
    rmse: str,
    model_uri: str | None = None,
) -> None:
    """The summary of the version behind `alias` on its registered model (see `aliased_models`);
    with `model_uri`, the API loads the version from it with no registry call."""
    summary = {"version": version, "run_id": run_id, "promoted_at": at, "rmse": rmse, "model_uri": model_uri}
    writer(mlflow_client).set_registered_model_tag(name, Tag.ALIAS_PREFIX + alias, json.dumps(summary))


def _iso(milliseconds: int | None) -> str:
    return datetime.fromtimestamp((milliseconds or 0) / 1000, UTC).isoformat()


def all_registered_models(mlflow_client: "MlflowClient") -> list:
    return every_page(mlflow_client.search_registered_models, 1000)


def every_page(listing: Any, size: int) -> list:
    """Every item of one of MLflow's paged listings (`search_registered_models`, `list_webhooks`)."""
    found, token = [], None
    while True:
        page = listing(max_results=size, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def training_status(mlflow_client: "MlflowClient", settings: Settings, run_id: str) -> dict[str, Any] | None:
    """What a training run says of itself (state, version, decision, error, metrics); None when
    there is no such run."""
    from mlflow.exceptions import MlflowException

    try:
        run = mlflow_client.get_run(run_id)
    except MlflowException:
        return None
    tags = run.data.tags
    state = tags.get(Tag.STATUS) or ("running" if run.info.status == "RUNNING" else run.info.status.lower())
    return {
        "run_id": run_id,
        "state": state,
        "model_name": tags.get(Tag.SERIES),
        "version": tags.get(Tag.MODEL_VERSION),
        "decision": tags.get(Tag.DECISION),
        "reason": tags.get(Tag.REASON),
        "error": tags.get(Tag.ERROR),
        "metrics": dict(run.data.metrics),
        "run_url": run_url(settings, run.info.experiment_id, run_id),
    }
