"""`POST /webhooks/mlflow`: the MLflow server says an alias moved; the models are refreshed at once."""

import json

from fastapi import APIRouter, Request
from starlette.responses import Response

from serving import webhooks
from serving.bodies import json_response
from serving.deps import StateDep
from serving.schemas import errors

router = APIRouter(tags=["models"])


@router.post(
    "/webhooks/mlflow",
    summary="Delivery of the MLflow webhook the API registered (alias created or deleted)",
    responses=errors(401, 404, 422),
)
async def mlflow_webhook(request: Request, state: StateDep) -> Response:
    """Signed by the MLflow server with MODEL_WEBHOOK_SECRET (`X-MLflow-Signature`, HMAC-SHA256);
    anything else is refused with 401. A valid delivery about an alias wakes the refresh that
    otherwise runs every MODEL_REFRESH_SECONDS."""
    secret = state.settings.model_webhook_secret
    if secret is None:
        return json_response({"detail": "webhooks are off: set MODEL_WEBHOOK_SECRET (and MODEL_WEBHOOK_URL)"}, 404)
    body = await request.body()
    try:
        webhooks.verify(secret.get_secret_value(), dict(request.headers), body)
    except webhooks.Unsigned as exc:
        return json_response({"detail": str(exc)}, 401)
    try:
        delivery = json.loads(body)
        entity, data = delivery["entity"], delivery.get("data") or {}
    except (ValueError, TypeError, KeyError):
        return json_response({"detail": "expected MLflow's webhook body: {entity, action, timestamp, data}"}, 422)
    aliases = {state.settings.model_alias, state.settings.challenger_alias}
    refreshing = entity == "model_version_alias" and data.get("alias") in aliases and state.store.wake()
    return json_response({"received": True, "refreshing": bool(refreshing)})
