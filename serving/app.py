"""The FastAPI app: forecasts from whatever the registry has promoted.

Hot routes take the raw body and decode it with msgspec, answer with pre-encoded JSON, and
touch nothing but memory when the request carries its data. Everything that waits on MongoDB
or MLflow is on other routes, and the app starts (and says so in /health) without either.
"""

import asyncio
import hmac
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import msgspec
import numpy as np
import orjson
from fastapi import FastAPI, Header, Path, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from core.masking import mask_text, mask_url
from core.settings import Settings, get_settings
from serving import errors, observability, prediction
from serving.errors import ApiError
from serving.model_store import ModelStore, ServedModel
from serving.schemas import EXAMPLES, BatchRequest, BatchResponse, ErrorBody, PredictRequest, PredictResponse
from serving.schemas import openapi_components
from serving.training import TrainingConflict, Trainings, TrainRequest

log = logging.getLogger(__name__)
_JSON = "application/json"
_predict_decoder = msgspec.json.Decoder(PredictRequest)
_batch_decoder = msgspec.json.Decoder(BatchRequest)
_encode = msgspec.json.Encoder().encode


def _json(payload: Any, status: int = 200) -> Response:
    return Response(_encode(payload), status_code=status, media_type=_JSON)


class Database:
    """The async Mongo client, created lazily and never fatal: the app runs without Mongo."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.client: Any = None
        self.url: str | None = None
        self.error: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    async def connect(self) -> Any:
        loop = asyncio.get_running_loop()
        if self.client is not None and self.loop is loop:
            return self.client
        async with self._locks.setdefault(loop, asyncio.Lock()):
            if self.client is None or self.loop is not loop:
                from core.mongo import connect_async, database_url

                try:
                    self.url = self.url or await asyncio.to_thread(database_url, self.settings)
                except RuntimeError as exc:
                    self.error = str(exc)
                    raise ApiError(503, f"MongoDB is not available: {exc}") from None
                # An async client belongs to the event loop it was made on (one per server
                # process; test clients may run the app on several).
                self.client = connect_async(self.url, self.settings.mongodb_timeout_ms)
                self.loop = loop
        return self.client

    async def db(self) -> Any:
        return (await self.connect())[self.settings.mongodb_database]

    async def ping(self, timeout: float = 1.0) -> bool:
        try:
            client = await asyncio.wait_for(self.connect(), timeout=max(timeout, 5.0))
            await asyncio.wait_for(client.admin.command("ping"), timeout=timeout)
            return True
        except Exception:  # noqa: BLE001 - any failure means not connected
            return False

    def where(self) -> str:
        return mask_url(self.url) if self.url else "MongoDB"

    async def close(self) -> None:
        if self.client is not None and self.loop is asyncio.get_running_loop():
            await self.client.close()


def _mongo_unavailable(db: Database, exc: Exception) -> ApiError:
    text = mask_text(str(exc).split(", Timeout:")[0], [db.settings.mongo_url])
    return ApiError(503, f"MongoDB at {db.where()} is not answering ({text[:200]}); try again when it is back")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check_for_serving()
    settings.configure_environment()
    # A registry that is down must not hold a refresh for minutes (MLflow's default: 7 retries
    # with exponential backoff); the poller tries again on its next tick anyway.
    for name, value in {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                        "MLFLOW_HTTP_REQUEST_TIMEOUT": "15"}.items():  # fmt: skip
        os.environ.setdefault(name, value)
    store = ModelStore(settings)
    database = Database(settings)
    trainings = Trainings()

    async def poll_registry() -> None:
        while True:
            await asyncio.sleep(settings.model_refresh_seconds)
            try:
                await asyncio.to_thread(store.refresh)
            except Exception:  # noqa: BLE001
                log.exception("model refresh failed")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        first = asyncio.create_task(asyncio.to_thread(store.refresh))
        poller = asyncio.create_task(poll_registry())
        connecting = asyncio.create_task(database.ping())
        yield
        for task in (first, poller, connecting):
            task.cancel()
        await database.close()

    app = FastAPI(
        title="mlts",
        version="0.1.0",
        summary="Time-series forecasts from the models the MLflow registry has promoted.",
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry costs ~15 µs a request even with no exporter: on only when one is configured.
        telemetry=None if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.store, app.state.database, app.state.settings = store, database, settings
    errors.install(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "Prefer"],
        )  # fmt: skip
    app.add_middleware(observability.ObservabilityMiddleware, max_body_bytes=settings.max_body_bytes)

    def require_key(key: str | None) -> None:
        expected = settings.api_key
        if expected is None:
            return
        if key is None or not hmac.compare_digest(key.encode(), expected.get_secret_value().encode()):
            raise ApiError(401, "missing or wrong API key: send it in the X-API-Key header", {"WWW-Authenticate": "X-API-Key"})

    def pick_model(name: str | None) -> ServedModel:
        served = store.get(name)
        if served is not None:
            return served
        known = sorted(store.models)
        if not known:
            raise ApiError(503, "no model is loaded yet: train one (POST /train or `mlts train`) and wait for promotion")
        if name is None:
            raise ApiError(503, f"MODEL_NAME={settings.model_name} is not promoted; served models: {', '.join(known)}")
        raise ApiError(404, f"model {name!r} is not served; served models: {', '.join(known)}")

    async def read_body(request: Request) -> bytes:
        body = await request.body()
        if not body:
            raise ApiError(422, "the request body is empty: send a JSON object (see /docs for examples)")
        return body

    def decode(decoder: msgspec.json.Decoder, body: bytes) -> Any:
        try:
            return decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise ApiError(422, _explain(str(exc))) from None
        except msgspec.DecodeError as exc:
            raise ApiError(
                422, f"the body is not valid JSON ({exc}); NaN and Infinity are not JSON numbers, send finite values"
            ) from None

    # --- forecasts -------------------------------------------------------------------------

    @app.post("/predict", tags=["forecast"], summary="Forecast the next values of a series", **_body_doc("PredictRequest", "PredictResponse", 422, 404, 503))
    async def predict(request: Request) -> Response:
        """Send the recent points (`data`) and get the next `horizon` values with interval bounds,
        or name a series in MongoDB (`collection_name`) to forecast from its latest points."""
        body = decode(_predict_decoder, await read_body(request))
        if body.horizon > settings.max_horizon:
            raise ApiError(422, f"horizon={body.horizon} is over the limit of {settings.max_horizon} (MAX_HORIZON)")
        if body.data is not None:
            if body.collection_name is not None:
                raise ApiError(422, "send either data or collection_name, not both")
            if len(body.data) == 0:
                raise ApiError(422, "data is empty: send at least window_size points")
            if len(body.data) > settings.max_points:
                raise ApiError(422, f"data has {len(body.data)} points, over the limit of {settings.max_points} (MAX_POINTS)")
            served = pick_model(body.model)
            times, values = prediction.series_from_points(body.data)
        elif body.collection_name is not None:
            served, times, values = await _series_from_mongo(body)
        else:
            raise ApiError(422, "send data (a list of {timestamp, value} points) or collection_name")
        model = served.model
        prediction.check_window(served.name, model, len(values), body.window_size)
        point, lower, upper = prediction.forecast(model, values, body.horizon)
        stamps = prediction.next_timestamps(times, body.horizon, (model.metadata or {}).get("step_seconds"))
        served.counter.inc()
        forecasts = [
            {"timestamp": t, "value": v, "lower": lo, "upper": hi}
            for t, v, lo, hi in zip(stamps, point.tolist(), lower.tolist(), upper.tolist())
        ]
        return _json(
            {"prediction": forecasts[0]["value"], "predictions": forecasts, "model": served.ref,
             "window_size": model.window_size, "horizon": body.horizon}
        )  # fmt: skip

    async def _series_from_mongo(body: PredictRequest) -> tuple[ServedModel, np.ndarray, np.ndarray]:
        from pymongo.errors import PyMongoError

        from core.mongo import SeriesNotFoundError, read_series_async, to_arrays
        from core.series import SeriesSpec, SeriesSpecError

        try:
            spec = SeriesSpec(body.collection_name, body.value_field, body.timestamp_field, body.filter or {})
        except SeriesSpecError as exc:
            raise ApiError(422, str(exc)) from None
        served = pick_model(body.model or (spec.model_name if spec.model_name in store.models else None))
        try:
            frame = await read_series_async(await database.db(), spec, limit=max(served.model.window_size, 2))
        except SeriesNotFoundError as exc:
            raise ApiError(404, str(exc)) from None
        except PyMongoError as exc:
            raise _mongo_unavailable(database, exc) from None
        clean = frame.dropna(subset=["timestamp_utc", "value_float"])
        series = to_arrays(clean)
        times = series.timestamps.astype("datetime64[ms]").astype(np.float64)
        return served, times, series.values

    @app.post("/predict/batch", tags=["forecast"], summary="Forecast many windows in one call", **_body_doc("BatchRequest", "BatchResponse", 422, 404, 503))
    async def predict_batch(request: Request) -> Response:
        """Each window is `window_size` values, oldest first; the answer has one row of `horizon`
        forecasts (and bounds) per window, computed in one vectorised call."""
        body = decode(_batch_decoder, await read_body(request))
        served = pick_model(body.model)
        model = served.model
        if not body.windows:
            raise ApiError(422, "windows is empty: send at least one window")
        if len(body.windows) > settings.max_batch_windows:
            raise ApiError(422, f"{len(body.windows)} windows is over the limit of {settings.max_batch_windows} (MAX_BATCH_WINDOWS)")
        if body.horizon > settings.max_horizon:
            raise ApiError(422, f"horizon={body.horizon} is over the limit of {settings.max_horizon} (MAX_HORIZON)")
        try:
            windows = np.array(body.windows, dtype=np.float64)
        except ValueError:
            windows = None
        if windows is None or windows.ndim != 2 or windows.shape[1] != model.window_size:
            raise ApiError(422, f"every window must hold window_size={model.window_size} values (model {served.name})")
        if not np.all(np.isfinite(windows)):
            raise ApiError(422, "windows must hold finite numbers only")
        predicted = model.forecast_windows(windows, body.horizon)
        lower, upper = model.bounds(predicted)
        served.counter.inc(len(windows))
        payload = {
            "predictions": np.ascontiguousarray(predicted), "lower": np.ascontiguousarray(lower),
            "upper": np.ascontiguousarray(upper), "model": served.ref, "horizon": body.horizon,
        }  # fmt: skip
        return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), media_type=_JSON)

    # --- models and health -----------------------------------------------------------------

    @app.get("/model/info", tags=["models"], summary="The models served and how they were trained")
    async def model_info() -> Response:
        models = sorted(store.models.values(), key=lambda m: m.name)
        default = store.get(None)
        return _json(
            {"model_loaded": bool(models), "default_model": default.name if default else None,
             **(default.info() if default else {}), "models": [m.info() for m in models]}
        )  # fmt: skip

    @app.get("/health", tags=["service"], summary="Is the API healthy: a model loaded, the database answering")
    async def health() -> Response:
        connected = await database.ping()
        models = store.models
        healthy = bool(models) and connected and store.registry_reachable is not False
        return _json(
            {
                "status": "healthy" if healthy else "degraded",
                "database": "connected" if connected else "disconnected",
                "model_loaded": bool(models),
                "models": [{"name": m.name, "version": m.version} for m in models.values()],
                "default_model": store.default_name,
                "registry": {None: "unknown", True: "reachable", False: "unreachable"}[store.registry_reachable],
                "last_error": mask_text(store.last_error, [settings.mongo_url]) if store.last_error else None,
                "environment": settings.environment,
            }
        )

    @app.get("/ready", tags=["service"], summary="200 once a model is loaded, 503 before (for orchestrators)")
    async def ready() -> Response:
        if not store.models:
            return _json({"ready": False, "detail": "no model loaded yet"}, status=503)
        return _json({"ready": True, "models": len(store.models)})

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(observability.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    # --- training ---------------------------------------------------------------------------

    @app.post(
        "/train", tags=["training"], summary="Train a series (waits, or 202 with ?async=true)",
        responses={202: {"description": "Training started"}, 401: {"model": ErrorBody}, 404: {"model": ErrorBody},
                   409: {"model": ErrorBody}, 422: {"model": ErrorBody}, 503: {"model": ErrorBody}},
        openapi_extra={"requestBody": {"required": True, "content": {_JSON: {"schema": {"$ref": "#/components/schemas/TrainRequest"}}}}},
    )  # fmt: skip
    async def train(
        request: Request,
        run_async: Annotated[bool, Query(alias="async", description="Answer 202 at once with a status URL.")] = False,
        prefer: Annotated[str | None, Header(description="`respond-async` does what ?async=true does.")] = None,
        x_api_key: Annotated[str | None, Header(description="Required when API_KEY is set.")] = None,
    ) -> Response:
        """Run the `train_series` flow: load, validate, fit, evaluate, log to MLflow, register and
        promote if better. Waits and answers with the result (the new version is served from the
        next request if promoted), or with `?async=true` answers 202 and a status URL."""
        require_key(x_api_key)
        body = _train_body(await read_body(request))
        parameters = body.flow_parameters()
        from pipelines.config import TrainingConfig

        try:
            key = TrainingConfig(**parameters).spec.model_name
        except ValueError as exc:
            raise ApiError(422, _pydantic_text(exc)) from None
        try:
            trainings.claim(key)
        except TrainingConflict as exc:
            raise ApiError(409, str(exc)) from None
        try:
            await _check_series(parameters, key)
            if run_async or (prefer or "").lower().replace(" ", "").startswith("respond-async"):
                run_id = await asyncio.to_thread(_start_run, parameters)
                thread = threading.Thread(target=_train_in_background, args=(parameters, run_id, key), daemon=True)
                thread.start()
                return _json({"run_id": run_id, "state": "running", "status_url": f"/train/{run_id}"}, status=202)
            from serving.training import run_flow

            succeeded, outcome = await asyncio.to_thread(run_flow, parameters)
        except BaseException:
            trainings.release(key)
            raise
        trainings.release(key)
        return await _training_answer(succeeded, outcome)

    async def _check_series(parameters: dict[str, Any], key: str) -> None:
        from pymongo.errors import PyMongoError

        from pipelines.locks import is_locked

        try:
            db = await database.db()
            names = await db.list_collection_names()
            if parameters["collection"] not in names:
                known = ", ".join(sorted(n for n in names if not n.startswith(("system.", "mlts_")))) or "none"
                raise ApiError(404, f"collection {parameters['collection']!r} does not exist (collections: {known})")
            sync_db = _sync_db()
            if await asyncio.to_thread(is_locked, sync_db, key):
                raise ApiError(409, f"series {key!r} is already being trained (by the scheduler or another API); try again when it ends")
        except PyMongoError as exc:
            raise _mongo_unavailable(database, exc) from None

    sync_client: list[Any] = []

    def _sync_db() -> Any:
        from core.mongo import connect

        if not sync_client:
            sync_client.append(connect(database.url, settings.mongodb_timeout_ms))
        return sync_client[0][settings.mongodb_database]

    def _start_run(parameters: dict[str, Any]) -> str:
        from serving.training import start_run

        return start_run(settings, parameters)

    def _train_in_background(parameters: dict[str, Any], run_id: str, key: str) -> None:
        from serving.training import run_flow

        try:
            succeeded, outcome = run_flow(parameters, run_id)
            if succeeded and outcome.get("decision") == "promoted":
                store.refresh()
        except Exception:  # noqa: BLE001
            log.exception("background training of %s failed", key)
        finally:
            trainings.release(key)

    async def _training_answer(succeeded: bool, outcome: Any) -> Response:
        from pymongo.errors import ConnectionFailure

        from core.mongo import SeriesNotFoundError
        from ml.errors import ForecastInputError
        from pipelines.locks import TrainingInProgress
        from pipelines.validation import ValidationFailed

        if succeeded:
            if outcome.get("decision") == "promoted":
                await asyncio.to_thread(store.refresh)
            return _json(outcome)
        error = outcome
        text = mask_text(str(error), [settings.mongo_url, settings.api_key and settings.api_key.get_secret_value()])
        if isinstance(error, ValidationFailed):
            raise ApiError(422, text)
        if isinstance(error, (ForecastInputError, ValueError)) and not isinstance(error, SeriesNotFoundError):
            raise ApiError(422, f"training failed: {text}")
        if isinstance(error, SeriesNotFoundError):
            raise ApiError(404, text)
        if isinstance(error, TrainingInProgress):
            raise ApiError(409, text)
        if isinstance(error, ConnectionFailure):
            raise ApiError(503, f"MongoDB stopped answering during training: {text[:300]}")
        raise ApiError(503, f"training failed: {type(error).__name__}: {text[:500]}")

    @app.get("/train/{run_id}", tags=["training"], summary="State of a training started with ?async=true")
    async def train_status(run_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The run id /train answered.")]) -> Response:
        from serving.training import run_status

        try:
            status = await asyncio.to_thread(run_status, settings, run_id)
        except Exception as exc:  # noqa: BLE001 - tracking server down
            raise ApiError(503, f"MLflow is not answering: {type(exc).__name__}") from None
        if status is None:
            raise ApiError(404, f"no training run {run_id}")
        return _json(status)

    # --- database --------------------------------------------------------------------------

    @app.get("/database/test", tags=["database"], summary="Round trip to MongoDB: version, latency, collections")
    async def database_test() -> Response:
        from pymongo.errors import PyMongoError

        from core.mongo import server_status_async

        try:
            status = await server_status_async(await database.connect(), settings.mongodb_database)
        except PyMongoError as exc:
            raise _mongo_unavailable(database, exc) from None
        status["collections"] = [c for c in status["collections"] if not c.startswith("mlts_")]
        return _json({"status": "connected", "url": database.where(), **status})

    @app.get("/collections", tags=["database"], summary="Collections and their document counts")
    async def collections() -> Response:
        from pymongo.errors import PyMongoError

        try:
            db = await database.db()
            names = sorted(n for n in await db.list_collection_names() if not n.startswith(("system.", "mlts_")))
            counts = [await db[name].estimated_document_count() for name in names]
        except PyMongoError as exc:
            raise _mongo_unavailable(database, exc) from None
        return _json({"database": settings.mongodb_database,
                      "collections": [{"name": n, "count": c} for n, c in zip(names, counts)]})  # fmt: skip

    @app.get("/collections/{name}/info", tags=["database"], summary="What a collection holds: count, time range, fields, sensors")
    async def collection_info(
        name: Annotated[str, Path(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")],
        timestamp_field: Annotated[str, Query(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_][A-Za-z0-9_\-]*)*$")] = "timestamp",
    ) -> Response:
        from pymongo.errors import PyMongoError

        from core.timestamps import to_utc

        try:
            db = await database.db()
            if name not in await db.list_collection_names():
                raise ApiError(404, f"collection {name!r} does not exist in database {settings.mongodb_database!r}")
            collection = db[name]
            count = await collection.count_documents({})
            first = await collection.find({}, {"_id": 0}).sort(timestamp_field, 1).limit(1).to_list(1)
            last = await collection.find({}, {"_id": 0, timestamp_field: 1}).sort(timestamp_field, -1).limit(1).to_list(1)
            sensors = await collection.distinct("additional_features.sensor_id")
        except PyMongoError as exc:
            raise _mongo_unavailable(database, exc) from None
        import pandas as pd

        def stamp(documents: list[dict]) -> str | None:
            if not documents or timestamp_field.split(".")[0] not in documents[0]:
                return None
            value = pd.json_normalize(documents).get(timestamp_field)
            converted = to_utc(value.astype(object)) if value is not None else None
            return None if converted is None or converted.isna().all() else converted.iloc[0].isoformat()

        return _json(
            {"name": name, "count": count, "first_timestamp": stamp(first), "last_timestamp": stamp(last),
             "fields": sorted(first[0]) if first else [], "sensor_ids": sorted(str(s) for s in sensors)}
        )  # fmt: skip

    # The hot routes also as plain Starlette routes, matched first: same handlers, without
    # FastAPI's per-request dependency solving (they take the raw request anyway). The FastAPI
    # routes stay for the OpenAPI document.
    app.router.routes[0:0] = [
        Route("/predict", predict, methods=["POST"]),
        Route("/predict/batch", predict_batch, methods=["POST"]),
    ]
    observability.ROUTE_OF_ENDPOINT.update({predict: "/predict", predict_batch: "/predict/batch"})
    _document_openapi(app)
    return app


def _train_body(body: bytes) -> TrainRequest:
    from pydantic import ValidationError

    try:
        return TrainRequest.model_validate_json(body)
    except ValidationError as exc:
        raise ApiError(422, _pydantic_text(exc)) from None


def _pydantic_text(exc: Exception) -> str:
    errors_ = getattr(exc, "errors", None)
    if callable(errors_):
        parts = []
        for error in errors_()[:5]:
            where = ".".join(str(p) for p in error.get("loc", ())) or "body"
            message = error.get("msg", "")
            parts.append(f"{where}: {message}" if error.get("type") != "json_invalid" else f"the body is not valid JSON ({message})")
        return "; ".join(parts)
    return str(exc)


def _explain(message: str) -> str:
    """msgspec's messages name the JSON path; say what to send where it helps."""
    if "RFC3339" in message:
        return message.replace("Invalid RFC3339 encoded datetime", "timestamp must be an ISO-8601 date-time such as 2024-01-01T00:00:00Z, or epoch milliseconds")
    if "Number out of range" in message:
        return message.replace("Number out of range", "number out of range (values must be finite)")
    return message


def _body_doc(request: str, response: str, *statuses: int) -> dict[str, Any]:
    ref = "#/components/schemas/{}".format
    return {
        "openapi_extra": {
            "requestBody": {"required": True, "content": {_JSON: {"schema": {"$ref": ref(request)}, "example": EXAMPLES[request]}}}
        },
        "responses": {
            200: {"description": "Successful Response", "content": {_JSON: {"schema": {"$ref": ref(response)}}}},
            **{status: {"model": ErrorBody, "description": "Error"} for status in statuses},
        },
    }


def _document_openapi(app: FastAPI) -> None:
    """Add the msgspec and pydantic body schemas the raw-body routes reference."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        _, components = openapi_components(PredictRequest, PredictResponse, BatchRequest, BatchResponse)
        train = TrainRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.update({**components, "TrainRequest": train})
        # Validation errors answer like every other error (see serving/errors.py), not as a list.
        schemas["HTTPValidationError"] = {
            "title": "HTTPValidationError", "type": "object", "required": ["detail"],
            "properties": {"detail": {"type": "string", "description": "Which field is wrong and what to send."}},
        }  # fmt: skip
        schemas.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
