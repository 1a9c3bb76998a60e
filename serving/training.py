"""`POST /train`: the API's way into the training flow.

The API never trains in its request path's thread: a training runs the `train_series` flow in a
worker thread, waited for (the original clients' synchronous call) or in the background with a
status URL. One training per series at a time: in-process first (a set), then across
processes and machines by the flow's own lock in MongoDB.
"""

import logging
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.series import Scalar
from core.settings import Settings

log = logging.getLogger(__name__)


class TrainRequest(BaseModel):
    """The series to train and how; the original clients send `collection_name`, `window_size`
    and `epochs` only."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"collection_name": "sensor_readings", "window_size": 10, "epochs": 50,
                                         "filter": {"additional_features.sensor_id": "temp_office"}}]},
    )  # fmt: skip

    collection_name: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")
    value_field: str = Field("value", min_length=1, max_length=200)
    timestamp_field: str = Field("timestamp", min_length=1, max_length=200)
    filter: dict[str, Scalar] = Field(default_factory=dict)
    limit: int | None = Field(None, ge=1)
    window_size: int | None = Field(None, ge=1, le=1000)
    epochs: int | None = Field(None, ge=1, le=1_000_000)
    learning_rate: float | None = Field(None, gt=0, le=1)
    patience: int | None = Field(None, ge=1, le=1_000_000)
    holdout_fraction: float | None = Field(None, gt=0, lt=1)
    value_min: float | None = None
    value_max: float | None = None

    def flow_parameters(self) -> dict[str, Any]:
        fields = self.model_dump(exclude_none=True)
        fields["collection"] = fields.pop("collection_name")
        return fields


class TrainingConflict(Exception):
    pass


class Trainings:
    """Series being trained by this process."""

    def __init__(self) -> None:
        self._active: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, key: str) -> None:
        with self._lock:
            if key in self._active:
                raise TrainingConflict(f"series {key!r} is already being trained by this API; try again when it ends")
            self._active.add(key)

    def release(self, key: str) -> None:
        with self._lock:
            self._active.discard(key)


def start_run(settings: Settings, parameters: dict[str, Any]) -> str:
    """The MLflow run an asynchronous training will log to, created now so its id can be returned."""
    from core import registry
    from pipelines import tracking
    from pipelines.config import TrainingConfig

    config = TrainingConfig(**parameters)
    _, run_id = tracking.start_run(registry.client(settings), settings, config.spec, config.hyperparameters(settings), "api")
    return run_id


def run_flow(parameters: dict[str, Any], run_id: str | None = None) -> tuple[bool, Any]:
    """(True, the flow's result) or (False, the exception it failed with); never raises for a
    failed training. Runs in a worker thread, where Prefect's results resolve synchronously."""
    from pipelines.flows import train_series

    state = train_series(**parameters, run_id=run_id, source="api", return_state=True)
    if state.is_completed():
        return True, state.result()
    error = state.result(raise_on_failure=False)
    return False, error if isinstance(error, BaseException) else RuntimeError(state.message or "training failed")


def run_status(settings: Settings, run_id: str) -> dict[str, Any] | None:
    from mlflow.exceptions import MlflowException

    from core import registry

    client = registry.client(settings)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        return None
    tags = run.data.tags
    state = tags.get("mlts.status") or ("running" if run.info.status == "RUNNING" else run.info.status.lower())
    return {
        "run_id": run_id,
        "state": state,
        "model_name": tags.get(registry.TAG_SERIES),
        "version": tags.get("mlts.model_version"),
        "decision": tags.get(registry.TAG_DECISION),
        "reason": tags.get(registry.TAG_REASON),
        "error": tags.get("mlts.error"),
        "metrics": dict(run.data.metrics),
        "run_url": registry.run_url(settings, run.info.experiment_id, run_id),
    }
