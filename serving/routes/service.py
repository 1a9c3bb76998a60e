"""`/health`, `/ready` and `/metrics`: what orchestrators, load balancers and Prometheus ask."""

from fastapi import APIRouter
from starlette.responses import PlainTextResponse, Response

from core.masking import mask_text
from serving import observability
from serving.bodies import json_response
from serving.deps import StateDep

router = APIRouter(tags=["service"])
_REGISTRY_STATE = {None: "unknown", True: "reachable", False: "unreachable"}


@router.get("/health", summary="Is the API healthy: a model loaded, the database answering")
async def health(state: StateDep) -> Response:
    store = state.store
    connected = await state.database.ping()
    models = store.models
    healthy = bool(models) and connected and store.registry_reachable is not False
    return json_response(
        {
            "status": "healthy" if healthy else "degraded",
            "database": "connected" if connected else "disconnected",
            "model_loaded": bool(models),
            "models": [{"name": m.name, "version": m.version} for m in models.values()],
            "default_model": store.default_name,
            "registry": _REGISTRY_STATE[store.registry_reachable],
            "last_refresh_seconds": store.last_refresh_seconds,
            "webhook": store.webhook,
            "last_error": mask_text(store.last_error, [state.settings.mongo_url]) if store.last_error else None,
            "environment": state.settings.environment,
            "training": state.trainings.state,
        }
    )


@router.get("/ready", summary="200 once a model is loaded, 503 before (for orchestrators)")
async def ready(state: StateDep) -> Response:
    if not state.store.models:
        return json_response({"ready": False, "detail": "no model loaded yet"}, status=503)
    return json_response({"ready": True, "models": len(state.store.models)})


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def metrics() -> Response:
    body, media_type = observability.exposition()
    return Response(body, media_type=media_type)
