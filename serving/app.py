"""The FastAPI app: forecasts from whatever the registry has promoted.

`create_app` builds the app and nothing else: state, lifespan, middleware, error handlers and
one router per resource (`serving/routes/`). The app starts, and says so in /health, without
MongoDB, without MLflow and without any model.
"""

import asyncio
import gc
import importlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from core.settings import Settings, get_settings
from serving import access_log, errors, webhooks
from serving.access_log import AccessLog
from serving.database import Database
from serving.deps import AppState
from serving.fast_path import FastPath
from serving.live import LiveFigures
from serving.model_store import ModelStore
from serving.observability import ObservabilityMiddleware
from serving.prediction_log import PredictionLog
from serving.routes import database, docs, forecast, models, monitoring, service, training
from serving.routes import webhooks as webhook_routes
from serving.training import Trainings

_NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False}


async def _freeze_after(first_load: asyncio.Task) -> None:
    """Once the first models are in, move every object alive into the collector's permanent
    generation: its full passes then walk what requests create, not the hundreds of thousands of
    objects MLflow and pandas leave behind (a 100 ms pause otherwise, every few thousand logged
    forecasts, as the prediction log's queue promotes objects to the old generation)."""
    await asyncio.wait([first_load])
    await asyncio.to_thread(importlib.import_module, "core.timestamps")  # pandas, for the first series read
    gc.freeze()


async def _register_webhook(store: ModelStore, settings: Settings) -> None:
    store.webhook = await asyncio.to_thread(webhooks.announce, settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check_for_serving()
    store = ModelStore(settings)
    database_ = Database(settings)
    state = AppState(
        settings,
        store,
        database_,
        Trainings(settings, store),
        PredictionLog(settings, database_),
        LiveFigures(database_, store),
    )

    access = AccessLog() if access_log.wanted(settings) else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        first_load = asyncio.create_task(asyncio.to_thread(store.start))
        background = [
            first_load,
            asyncio.create_task(_freeze_after(first_load)),
            asyncio.create_task(store.follow()),
            asyncio.create_task(state.database.ping()),
            asyncio.create_task(state.log.run()),
            asyncio.create_task(state.live.follow(settings.model_refresh_seconds)),
        ]
        if access is not None:
            background.append(asyncio.create_task(access.run()))
        if settings.model_webhook_secret is not None:
            background.append(asyncio.create_task(_register_webhook(store, settings)))
        if settings.preload_training:
            background.append(asyncio.create_task(asyncio.to_thread(state.trainings.warm)))
        yield
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await state.database.close()
        await asyncio.to_thread(state.trainings.close)

    app = FastAPI(
        title="mlts",
        version="0.1.0",
        summary="Time-series forecasts from the models the MLflow registry has promoted.",
        lifespan=lifespan,
        docs_url=None,  # served from this app's own assets, below: FastAPI's load from a CDN
        redoc_url=None,
        # FastAPI's native OpenTelemetry costs ~15 µs a request even with no exporter: on only when one is set up.
        telemetry=None if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") else _NO_TELEMETRY,
    )
    app.state.mlts = state
    errors.install(app)
    docs.install(app)
    routers = (forecast, models, monitoring, service, training, database, webhook_routes)
    for module in routers:
        app.include_router(module.router)
    hot = {"/predict", "/predict/batch"}
    fast = {r.path: (r, r.endpoint) for r in forecast.router.routes if isinstance(r, APIRoute) and r.path in hot}
    app.add_middleware(FastPath, routes=fast)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "Prefer"],
        )
    app.add_middleware(ObservabilityMiddleware, max_body_bytes=settings.max_body_bytes, access=access)
    return app
