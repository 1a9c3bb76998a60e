"""`POST /train`'s side of training: one training per series in this process (then across
processes by the flow's lock in MongoDB), and the one place `serving` reaches into `pipelines`."""

import logging
import threading
from typing import TYPE_CHECKING, Any

from core.errors import Conflict
from core.registry import PROMOTED, Trigger
from core.settings import Settings
from core.training_config import TrainingConfig
from serving.model_store import ModelStore

if TYPE_CHECKING:
    from types import ModuleType

    from pipelines.entry import TrainingJob

log = logging.getLogger(__name__)


class Trainings:
    """Series being trained by this process."""

    def __init__(self, settings: Settings, store: ModelStore):
        self.settings = settings
        self.store = store
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._started = False
        self.state = "on first /train"  # then "warming" and "ready" with PRELOAD_TRAINING

    def claim(self, key: str) -> None:
        with self._lock:
            if key in self._active:
                raise Conflict(f"series {key!r} is already being trained by this API; try again when it ends")
            self._active.add(key)

    def release(self, key: str) -> None:
        with self._lock:
            self._active.discard(key)

    def submit(self, config: TrainingConfig, trigger: Trigger = "api") -> "TrainingJob":
        """Start the training of a claimed series; the claim is released, and a promoted version
        loaded, when it ends. Blocking (it creates the MLflow run): call it off the event loop."""
        self._started = True
        key = config.spec.model_name

        def done(outcome: dict[str, Any] | None) -> None:
            try:
                if outcome is not None and outcome.get("decision") == PROMOTED:
                    self.store.refresh()
            finally:
                self.release(key)

        return _pipelines().submit_training(config, self.settings, trigger=trigger, on_done=done)

    def warm(self) -> None:
        """Import the training stack now (PRELOAD_TRAINING): the first /train then answers in seconds."""
        self._started = True
        self.state = "warming"
        _pipelines().warm(self.settings)
        self.state = "ready"

    def close(self) -> None:
        """On the API's way down: stop what trainings started (Prefect's temporary server)."""
        if self._started:
            _pipelines().shutdown()


def _pipelines() -> "ModuleType":
    """`pipelines.entry`, the API's one door into training, imported on the first training:
    Prefect, MLflow and Great Expectations take seconds to import, and the API answers /health and
    /predict without them."""
    from pipelines import entry

    return entry
