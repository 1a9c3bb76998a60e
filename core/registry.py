"""The MLflow registry as mlts uses it: names, aliases, tags, and reading a version's model back.

Both the training flows (which write) and the API (which only reads) go through here, so the
two agree on what a champion is and where its model JSON lives.
"""

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from typing import TYPE_CHECKING

from core.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

    from ml.forecaster import PerceptronForecaster

MODEL_ARTIFACT = "model"
MODEL_JSON = "data/model.json"

TAG_SERIES = "mlts.series"
TAG_SPEC = "mlts.spec"
TAG_DECISION = "mlts.decision"
TAG_REASON = "mlts.reason"
TAG_RMSE = "mlts.rmse"
TAG_CHAMPION_RMSE = "mlts.champion_rmse"
TAG_CHAMPION_VERSION = "mlts.champion_version"
TAG_PROMOTED_AT = "mlts.promoted_at"
TAG_PROMOTED_BY = "mlts.promoted_by"


def client(settings: Settings) -> "MlflowClient":
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


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
        return mlflow_client.create_experiment(name, artifact_location=location, tags={TAG_SERIES: name})
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
    import mlflow.artifacts

    from ml import model_format

    with tempfile.TemporaryDirectory(prefix="mlts-model-") as folder:
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=model_json_uri(mlflow_client, version), dst_path=folder, tracking_uri=mlflow_client.tracking_uri
        )
        return model_format.load(Path(path))


@dataclass(frozen=True)
class Promoted:
    name: str
    version: str
    run_id: str | None
    promoted_at: str


def promoted_models(mlflow_client: "MlflowClient", alias: str) -> list[Promoted]:
    """Every registered model with a version behind `alias`, most recently promoted first."""
    found = []
    for model in all_registered_models(mlflow_client):
        number = (model.aliases or {}).get(alias)
        if number is None:
            continue
        version = mlflow_client.get_model_version(model.name, str(number))
        promoted_at = (version.tags or {}).get(TAG_PROMOTED_AT) or _iso(version.creation_timestamp)
        found.append(Promoted(model.name, str(number), version.run_id, promoted_at))
    return sorted(found, key=lambda p: p.promoted_at, reverse=True)


def _iso(milliseconds: int | None) -> str:
    return datetime.fromtimestamp((milliseconds or 0) / 1000, UTC).isoformat()


def all_registered_models(mlflow_client: "MlflowClient") -> list:
    models, token = [], None
    while True:
        page = mlflow_client.search_registered_models(max_results=1000, page_token=token)
        models.extend(page)
        token = page.token
        if not token:
            return models
