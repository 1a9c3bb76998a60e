"""The one door from the API into the training pipeline: `submit_training`.

The API imports this module in one place, on the first `POST /train` (importing Prefect, MLflow,
Great Expectations and matplotlib takes seconds, and the API must answer /health before that).
Everything the API needs back comes as plain data or as `core.errors` kinds.
"""

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from core import registry
from core.errors import MltsError, classify
from core.registry import Trigger
from core.settings import Settings
from core.training_config import TrainingConfig
from pipelines import tracking
from pipelines.flows import send_queued_events, train_series, without_heartbeat

log = logging.getLogger(__name__)


class TrainingJob:
    """A training under way: its MLflow run id now, its outcome (or MltsError) later."""

    def __init__(self, run_id: str, future: "Future[dict[str, Any]]"):
        self.run_id = run_id
        self.future = future


def submit_training(
    config: TrainingConfig,
    settings: Settings,
    trigger: Trigger = "api",
    on_done: Callable[[dict[str, Any] | None], None] | None = None,
) -> TrainingJob:
    """Create the training's MLflow run (so its id can be answered at once) and run the
    `train_series` flow in a worker thread. The job's future holds the flow's outcome, or the
    MltsError it failed with; `on_done(outcome or None)` runs when it ends, whatever the end."""
    client = registry.client(settings)
    _, run_id = tracking.start_run(
        client, settings, config.spec, config.hyperparameters(settings), trigger, config.tune
    )
    future: Future[dict[str, Any]] = Future()
    secrets = [settings.mongo_url, settings.api_key and settings.api_key.get_secret_value()]

    def work() -> None:
        outcome: dict[str, Any] | None = None
        failure: MltsError | None = None
        try:
            with without_heartbeat():
                state = train_series(config, run_id=run_id, trigger=trigger, return_state=True)
            if state.is_completed():
                outcome = state.result()
            else:
                error = state.result(raise_on_failure=False)
                failure = _failure(error if isinstance(error, BaseException) else RuntimeError(state.message), secrets)
        except Exception as exc:  # noqa: BLE001 - the caller gets it through the future
            failure = _failure(exc, secrets)
        finally:
            # Before the future: whoever waits on it sees what on_done did (a refreshed model).
            if on_done is not None:
                try:
                    on_done(outcome)
                except Exception:  # noqa: BLE001
                    log.exception("after the training of %s", config.spec.model_name)
        if failure is not None:
            future.set_exception(failure)
        else:
            future.set_result(outcome)

    threading.Thread(target=work, name=f"train {config.spec.model_name}", daemon=True).start()
    return TrainingJob(run_id, future)


def _failure(error: BaseException, secrets: list[str | None]) -> MltsError:
    failure = classify(error, secrets)
    if failure is not error and failure.kind == "invalid":
        return type(failure)(f"training failed: {failure.message}")
    return failure


def warm(settings: Settings) -> None:
    """Do now what the first training would otherwise wait for: import Great Expectations and
    build a validation context, create the MLflow store's tables, reach the Prefect API."""
    from prefect.client.orchestration import get_client

    from pipelines.validation import warm_up

    warm_up()
    registry.initialise_store(settings)
    with get_client(sync_client=True) as client:
        client.hello()


def shutdown(timeout: float = 10.0) -> None:
    """Stop the temporary Prefect server this process's trainings started, if any, after sending
    it what is still queued (logs, events). Prefect does both at a clean interpreter exit only, and
    uvicorn's worker processes end on a re-raised SIGTERM, which skips it: the API calls this on
    its way down, so nothing is left behind and nothing waits on a server already gone."""
    from prefect._internal.concurrency.services import QueueService
    from prefect.server.api.server import SubprocessASGIServer

    servers = [server for server in SubprocessASGIServer._instances.values() if server.running]
    if not servers:
        return
    send_queued_events(timeout)
    QueueService.drain_all(timeout=timeout, at_exit=False)
    for server in servers:
        server.stop()
