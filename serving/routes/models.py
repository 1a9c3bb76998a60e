"""`/model/info`: the models served and how each was trained."""

from fastapi import APIRouter
from starlette.responses import Response

from serving.bodies import json_response
from serving.deps import StateDep

router = APIRouter(tags=["models"])


@router.get("/model/info", summary="The models served and how they were trained")
async def model_info(state: StateDep) -> Response:
    """The default model's name, version, alias, run, params, holdout metrics and data range
    at the top level (as the original API answered), and every served model under `models`."""
    models = sorted(state.store.models.values(), key=lambda m: m.name)
    default = state.store.get(None)
    return json_response(
        {
            "model_loaded": bool(models),
            "default_model": default.name if default else None,
            **(default.info() if default else {}),
            "models": [m.info() for m in models],
        }
    )
