"""Push instead of poll: an MLflow server (3.3 and later) posts to the API when an alias moves.

With MODEL_WEBHOOK_URL (where the MLflow server reaches this API) and MODEL_WEBHOOK_SECRET set,
the API registers, once, a webhook for `model_version_alias.created` and `.deleted` on the
tracking server; each delivery is checked (HMAC-SHA256 of `delivery id.timestamp.body` with the
secret, as MLflow signs it, and a timestamp at most MAX_AGE_SECONDS old, so a captured delivery
cannot be replayed) and wakes the model store's refresh at once. Polling every
MODEL_REFRESH_SECONDS stays: a lost delivery costs one refresh period, never a stale champion.
"""

import base64
import hashlib
import hmac
import logging
import time

from core.registry import client as registry_client
from core.registry import every_page, is_local_store
from core.settings import Settings

log = logging.getLogger(__name__)

NAME = "mlts-api"
EVENTS = ("model_version_alias.created", "model_version_alias.deleted")
MAX_AGE_SECONDS = 300
SIGNATURE = "x-mlflow-signature"
TIMESTAMP = "x-mlflow-timestamp"
DELIVERY = "x-mlflow-delivery-id"


class Unsigned(ValueError):
    """A delivery whose signature does not hold: answered 401."""


def announce(settings: Settings) -> str:
    """`register`, for the API's start: what happened, logged; a refusal is a warning, never fatal."""
    try:
        outcome = register(settings)
    except Exception as exc:  # noqa: BLE001 - the API serves (and polls) without its webhook
        outcome = f"webhook not registered ({type(exc).__name__}: {str(exc)[:300]}); polling the registry"
        log.warning(outcome)
        return outcome
    log.info(outcome)
    return outcome


def register(settings: Settings) -> str:
    """Create or update the API's webhook on the tracking server (idempotent: one webhook named
    NAME per URL). Returns what was done, for the log; raises what the server refused."""
    if settings.model_webhook_url is None or settings.model_webhook_secret is None:
        return "webhooks off: set MODEL_WEBHOOK_URL and MODEL_WEBHOOK_SECRET to get alias moves pushed"
    if is_local_store(settings.tracking_uri):
        return "webhooks off: a local store has no server to deliver them; polling the registry"
    client = registry_client(settings)
    url = settings.model_webhook_url.rstrip("/") + "/webhooks/mlflow"
    secret = settings.model_webhook_secret.get_secret_value()
    for hook in every_page(client.list_webhooks, 100):
        if hook.name == NAME and hook.url == url:
            client.update_webhook(hook.webhook_id, events=list(EVENTS), secret=secret, status="ACTIVE")
            return f"webhook {hook.webhook_id} for {url} updated"
    hook = client.create_webhook(
        NAME, url, list(EVENTS), description="mlts API: swap models when aliases move", secret=secret
    )
    return f"webhook {hook.webhook_id} for {url} registered"


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> None:
    """Raise Unsigned unless the delivery carries MLflow's signature of this body made with
    `secret`, recently."""
    signature, stamp, delivery = headers.get(SIGNATURE), headers.get(TIMESTAMP), headers.get(DELIVERY)
    if not (signature and stamp and delivery):
        raise Unsigned(f"a webhook delivery needs the {SIGNATURE}, {TIMESTAMP} and {DELIVERY} headers MLflow sends")
    if not stamp.isdigit() or abs((now or time.time()) - int(stamp)) > MAX_AGE_SECONDS:
        raise Unsigned(f"the delivery's timestamp is not within {MAX_AGE_SECONDS} s of now (replayed or clock skew)")
    version, _, encoded = signature.partition(",")
    signed = f"{delivery}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    if version != "v1" or not hmac.compare_digest(encoded, expected):
        raise Unsigned("the signature does not match: is MODEL_WEBHOOK_SECRET the webhook's secret?")
