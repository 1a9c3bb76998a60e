"""`/monitoring`: how the served forecasts turn out, as the monitoring flow last measured them."""

from fastapi import APIRouter
from starlette.responses import HTMLResponse, Response

from core.errors import NotFound
from serving.bodies import json_response
from serving.deps import StateDep
from serving.schemas import errors

router = APIRouter(tags=["monitoring"])


@router.get("/monitoring", summary="Live accuracy, drift and actions for every monitored model")
async def monitoring(state: StateDep) -> Response:
    """One entry per model the monitoring flow (`mlts monitor`) has measured: the live figures
    per role (champion, challenger), the drift state with its evidence, the last retraining it
    started and the last alert. Also reports the prediction log's queue."""
    with state.database.answering():
        await state.live.refresh()
    return json_response(
        {
            "models": [state.live.documents[name] for name in sorted(state.live.documents)],
            "prediction_log": state.log.describe(),
        }
    )


@router.get(
    "/monitoring/{model}",
    summary="Live accuracy, drift and actions for one model",
    responses=errors(404, 503),
)
async def monitoring_of(model: str, state: StateDep) -> Response:
    with state.database.answering():
        await state.live.refresh()
    doc = state.live.documents.get(model)
    if doc is None:
        known = ", ".join(sorted(state.live.documents)) or "none yet (run `mlts monitor`)"
        raise NotFound(f"model {model!r} has not been monitored; monitored models: {known}")
    return json_response(doc)


@router.get(
    "/reports/{model}",
    summary="The monitoring report of one model (HTML)",
    responses={200: {"description": "The report page", "content": {"text/html": {}}}, **errors(404, 503)},
)
async def report(model: str, state: StateDep) -> Response:
    """Forecasts against actuals with their interval, live error over time against the holdout's,
    coverage, the drift tests, and the retrainings, promotions and alerts they caused: one page
    with no script and nothing loaded from elsewhere, written by the last `mlts monitor`."""
    with state.database.answering():
        page = await state.live.report(model)
    if page is None:
        raise NotFound(f"no monitoring report for {model!r} yet: run `mlts monitor` after forecasts were logged")
    return HTMLResponse(page)
