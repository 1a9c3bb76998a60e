"""Alias moves pushed by a real `mlflow server` (its webhooks, HMAC-signed) swap the served model
at once; deliveries that are not signed with the secret are refused."""

import base64
import hashlib
import hmac
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core import registry, registry_snapshot
from core.processes import Child, free_port, poll_until
from core.settings import get_settings
from core.training_config import TrainingConfig
from pipelines.flows import train_series
from serving.webhooks import Unsigned, verify
from tests.serving.conftest import FILTER_S1, MODEL_S1

SECRET = "a-long-random-webhook-secret"


def _signed(body: bytes, secret: str = SECRET, stamp: int | None = None, delivery: str = "d-1") -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    digest = hmac.new(secret.encode(), f"{delivery}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "x-mlflow-signature": "v1," + base64.b64encode(digest).decode(),
        "x-mlflow-timestamp": str(stamp),
        "x-mlflow-delivery-id": delivery,
    }


@pytest.mark.parametrize(
    ("headers", "complaint"),
    [
        (dict, "needs the x-mlflow-signature"),
        (lambda: _signed(b"{}", secret="another secret"), "signature does not match"),
        (lambda: _signed(b'{"x": 1}'), "signature does not match"),  # signed another body
        (lambda: _signed(b"{}", stamp=int(time.time()) - 3600), "not within 300 s"),
    ],
)
def test_deliveries_not_signed_with_the_secret_now_are_refused(headers, complaint) -> None:
    with pytest.raises(Unsigned, match=complaint):
        verify(SECRET, headers(), b"{}")


def test_a_delivery_signed_as_mlflow_signs_passes() -> None:
    verify(SECRET, _signed(b'{"entity": "model_version_alias"}'), b'{"entity": "model_version_alias"}')


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    """`mlflow server` on a SQLite store, allowed to deliver webhooks over http to this machine."""
    from cryptography.fernet import Fernet

    port = free_port()
    command = [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--workers", "1"]
    command += ["--default-artifact-root", (tmp_path / "artifacts").as_uri(), "--no-serve-artifacts"]
    environment = {
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_CACHE_TTL": "1",
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_TRACKING_URI": None,
    }
    child = Child.spawn(command, "mlflow server", tmp_path / "mlflow-server.log", env=environment)
    try:
        child.wait_http(f"http://127.0.0.1:{port}/health", timeout=120)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.stop()


def test_an_alias_moved_on_the_server_is_served_within_a_second(
    mongo_db, mlflow_store, seed_series, mlflow_server, start_api, monkeypatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    get_settings.cache_clear()
    seed_series(sensor="s1")
    first = train_series(TrainingConfig(collection="readings", filter=FILTER_S1, window_size=12))
    second = train_series(TrainingConfig(collection="readings", filter=FILTER_S1, window_size=12, epochs=1))
    assert (first["decision"], second["decision"]) == ("promoted", "challenger")
    (seen,) = registry_snapshot.aliased(mlflow_server, ("champion",))["champion"]  # the server's REST search
    assert (seen.name, seen.version) == (MODEL_S1, "1") and seen.model_uri.startswith("file://")

    port = free_port()
    base, _ = start_api(
        PORT=str(port),
        MLFLOW_TRACKING_URI=mlflow_server,
        MODEL_WEBHOOK_URL=f"http://127.0.0.1:{port}",
        MODEL_WEBHOOK_SECRET=SECRET,
        MODEL_REFRESH_SECONDS="600",  # polling cannot be what swaps the model here
        SHADOW_CHALLENGER="false",
    )
    assert poll_until(lambda: "registered" in httpx.get(f"{base}/health").json()["webhook"], 30)
    assert poll_until(lambda: httpx.get(f"{base}/ready").status_code == 200, 30)
    assert httpx.get(f"{base}/model/info").json()["version"] == "1"
    (hook,) = registry.client(get_settings()).list_webhooks()
    assert hook.url == f"{base}/webhooks/mlflow" and hook.name == "mlts-api"

    time.sleep(1.5)  # the server caches its webhook list for MLFLOW_WEBHOOK_CACHE_TTL (1 s here)
    registry.client(get_settings()).set_registered_model_alias(MODEL_S1, "champion", second["version"])
    moved = time.monotonic()
    assert poll_until(lambda: httpx.get(f"{base}/model/info").json()["version"] == second["version"], 10, 0.05)
    assert time.monotonic() - moved < 1.5

    unsigned = httpx.post(f"{base}/webhooks/mlflow", content=b'{"entity": "model_version_alias"}')
    assert unsigned.status_code == 401 and "x-mlflow-signature" in unsigned.json()["detail"]
    body = json.dumps({"entity": "model_version_alias", "action": "created", "data": {"alias": "champion"}}).encode()
    signed = httpx.post(f"{base}/webhooks/mlflow", content=body, headers=_signed(body))
    assert signed.status_code == 200 and signed.json() == {"received": True, "refreshing": True}
