"""Prometheus metrics and the one ASGI middleware of the app.

The middleware is pure ASGI (no BaseHTTPMiddleware: it would copy every body through a task
group) and does three cheap things per request: refuse bodies over MAX_BODY_BYTES before they
are read, time the request, and count it under its route template (`/train/{run_id}`, not the
raw path, so the label set stays small).

With several workers (`mlts serve --workers N`) each process writes its figures to files in
PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode, which `mlts serve` sets up), and
`/metrics`, whichever worker answers it, reads them all: counters and histograms summed over the
workers, gauges as the most recent value.
"""

import os
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "mlts_http_requests_total", "HTTP requests by route and status.", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "mlts_http_request_duration_seconds",
    "Request latency by route.",
    ["method", "route"],
    registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PREDICTIONS = Counter(
    "mlts_predictions_total", "Forecasts served, per model version.", ["model", "version"], registry=REGISTRY
)
MODEL_RELOADS = Counter(
    "mlts_model_reloads_total", "Model versions loaded from the registry.", ["model"], registry=REGISTRY
)
MODEL_LOAD_FAILURES = Counter(
    "mlts_model_load_failures_total",
    "Versions that failed to load (the old one kept serving).",
    ["model"],
    registry=REGISTRY,
)
MODELS_LOADED = Gauge("mlts_models_loaded", "Models in memory.", registry=REGISTRY, multiprocess_mode="max")
PREDICTION_LOG_DROPPED = Counter(
    "mlts_prediction_log_dropped", "Forecasts the prediction log dropped (Mongo slow or away).", registry=REGISTRY
)
_LIVE = ["model", "version", "role"]
_SAME = "mostrecent"  # every worker reads the same monitor document: one value, not one per process
LIVE_RMSE = Gauge(
    "mlts_live_rmse", "RMSE of served forecasts against actuals.", _LIVE, registry=REGISTRY, multiprocess_mode=_SAME
)
LIVE_COVERAGE = Gauge(
    "mlts_live_coverage", "Share of actuals inside the interval.", _LIVE, registry=REGISTRY, multiprocess_mode=_SAME
)
LIVE_ACTUALS = Gauge(
    "mlts_live_actuals", "Actuals matched to served forecasts.", _LIVE, registry=REGISTRY, multiprocess_mode=_SAME
)
DRIFT_DETECTED = Gauge(
    "mlts_drift_detected",
    "1 while the monitor reports drift.",
    ["model", "kind"],
    registry=REGISTRY,
    multiprocess_mode=_SAME,
)


def exposition() -> tuple[bytes, str]:
    """The text Prometheus scrapes: this process's registry, or every worker's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


_TOO_LARGE = b'{"detail":"request body too large: the limit is %d bytes (MAX_BODY_BYTES)"}'


class ObservabilityMiddleware:
    def __init__(self, app: Any, max_body_bytes: int, access: Any = None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access = access  # serving.access_log.AccessLog, or None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]
        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    await _reply_too_large(send, limit)
                    _observe(scope, 413, started)
                    if self.access is not None:
                        self.access.add(scope, 413)
                    return
                break
        received = [0]

        async def limited_receive() -> dict:
            message = await receive()
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > limit:
                    raise BodyTooLarge()
            return message

        async def observed_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, limited_receive, observed_send)
        except BodyTooLarge:
            await _reply_too_large(send, limit)
            status[0] = 413
        _observe(scope, status[0], started)
        if self.access is not None:
            self.access.add(scope, status[0])


class BodyTooLarge(Exception):
    """Raised by the receive of a body over the limit; answered 413 by the middleware."""


async def _reply_too_large(send: Any, limit: int) -> None:
    body = _TOO_LARGE % limit
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _observe(scope: dict, status: int, started: float) -> None:
    route = scope.get("route")
    template = getattr(route, "path", None) or "unmatched"
    key = (scope.get("method", ""), template, status)
    metrics = _children.get(key)
    if metrics is None:
        metrics = _children[key] = (REQUESTS.labels(key[0], template, str(status)), LATENCY.labels(key[0], template))
    metrics[0].inc()
    metrics[1].observe(time.perf_counter() - started)
