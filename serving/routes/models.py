"""`/model/info`: the models served and how each was trained."""

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from serving.bodies import json_response
from serving.deps import StateDep
from serving.served_model import ServedModel

router = APIRouter(tags=["models"])


@router.get("/model/info", summary="The models served and how they were trained")
async def model_info(state: StateDep) -> Response:
    """The default model's name, version, alias, run, params, holdout metrics, data range and
    live figures (`live`, from the last `mlts monitor`) at the top level (as the original API
    answered), and every served model under `models`."""
    models = sorted(state.store.models.values(), key=lambda m: m.name)
    default = state.store.get(None)
    live = state.live.documents

    def described(served: ServedModel) -> dict[str, Any]:
        return {**served.info(), "live": (live.get(served.name) or {}).get("roles")}

    return json_response(
        {
            "model_loaded": bool(models),
            "default_model": default.name if default else None,
            **(described(default) if default else {}),
            "models": [described(m) for m in models],
        }
    )
