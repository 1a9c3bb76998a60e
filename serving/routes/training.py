"""`POST /train` and `GET /train/{run_id}`: the original synchronous call (waits, answers with
the result) and the asynchronous one (202 and a status URL)."""

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import Response

from core import registry
from core.errors import Conflict, NotFound, Unavailable
from core.locks import is_locked_async
from core.training_config import TrainingConfig
from serving.bodies import json_response, read_body
from serving.deps import ApiKey, AppState, StateDep
from serving.schemas import answer_doc, body_doc, errors

router = APIRouter(tags=["training"])
_INTERNAL = ("system.", "mlts_")


@router.post(
    "/train",
    summary="Train a series (waits, or 202 with ?async=true)",
    dependencies=[ApiKey],
    openapi_extra=body_doc(TrainingConfig.model_json_schema(by_alias=True)),
    responses={202: answer_doc({"type": "object"}, "Training started"), **errors(401, 404, 409, 422, 503)},
)
async def train(
    request: Request,
    state: StateDep,
    run_async: Annotated[bool, Query(alias="async", description="Answer 202 at once with a status URL.")] = False,
    prefer: Annotated[str | None, Header(description="`respond-async` does what ?async=true does.")] = None,
    trigger: Annotated[
        Literal["api", "manual"], Query(description="`manual` when a person asked (`mlts train` sends its runs here).")
    ] = "api",
) -> Response:
    """Run the `train_series` flow: load, validate, fit, evaluate, log to MLflow, register and
    promote if better. Waits and answers with the result (the new version is served from the
    next request if promoted), or with `?async=true` answers 202 and a status URL."""
    config = TrainingConfig.parse(await read_body(request))
    key = config.spec.model_name
    state.trainings.claim(key)
    try:
        await _check_series(state, config, key)
        job = await asyncio.to_thread(state.trainings.submit, config, trigger)
    except BaseException:
        state.trainings.release(key)
        raise
    if run_async or (prefer or "").lower().replace(" ", "").startswith("respond-async"):
        return json_response({"run_id": job.run_id, "state": "running", "status_url": f"/train/{job.run_id}"}, 202)
    return json_response(await asyncio.wrap_future(job.future))


async def _check_series(state: AppState, config: TrainingConfig, key: str) -> None:
    """What can be told before a flow starts: the collection exists, nobody trains the series."""
    with state.database.answering():
        db = await state.database.db()
        names = await db.list_collection_names()
        if config.collection not in names:
            known = ", ".join(sorted(n for n in names if not n.startswith(_INTERNAL))) or "none"
            raise NotFound(f"collection {config.collection!r} does not exist (collections: {known})")
        if await is_locked_async(db, key):
            raise Conflict(
                f"series {key!r} is already being trained (by the scheduler or another API); try again when it ends"
            )


@router.get("/train/{run_id}", summary="State of a training started with ?async=true", responses=errors(404, 422, 503))
async def train_status(
    state: StateDep,
    run_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The run id /train answered.")],
) -> Response:
    settings = state.settings
    try:
        status = await asyncio.to_thread(lambda: registry.training_status(registry.client(settings), settings, run_id))
    except Exception as exc:  # noqa: BLE001 - the tracking server is down
        raise Unavailable(f"MLflow is not answering: {type(exc).__name__}") from None
    if status is None:
        raise NotFound(f"no training run {run_id}")
    return json_response(status)
