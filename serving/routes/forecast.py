"""`/predict` and `/predict/batch`: the hot path. Bodies are decoded by msgspec from the raw
bytes and answers encoded by it (orjson for numpy arrays); a request that carries its data
touches nothing but the model in memory: no registry, no database."""

from typing import Any

import msgspec
import numpy as np
import orjson
from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from core.errors import InvalidInput
from core.mongo import read_series_async, to_arrays
from core.series import SeriesSpec
from core.settings import Settings
from serving import arrays, prediction
from serving.bodies import JsonBytes, decode, read_body
from serving.deps import AppState, app_state
from serving.schemas import (
    EXAMPLES,
    JSON,
    BatchRequest,
    BatchResponse,
    PredictRequest,
    PredictResponse,
    answer_doc,
    body_doc,
    errors,
    struct_schema,
)
from serving.served_model import ServedModel


class RawBodyRoute(APIRoute):
    """A route documented by FastAPI (summary, body schema, answers) whose endpoint takes the
    Request and returns a Response itself, so no dependency is solved per request."""

    def get_route_handler(self) -> Any:
        return self.endpoint


router = APIRouter(tags=["forecast"], route_class=RawBodyRoute)
_predict_decoder = msgspec.json.Decoder(PredictRequest)
_batch_decoder = msgspec.json.Decoder(BatchRequest)
_encode = msgspec.json.Encoder().encode


@router.post(
    "/predict",
    summary="Forecast the next values of a series",
    openapi_extra=body_doc(struct_schema(PredictRequest), EXAMPLES["PredictRequest"]),
    responses={200: answer_doc(struct_schema(PredictResponse)), **errors(404, 422, 503)},
)
async def predict(request: Request) -> Response:
    """Send the recent points (`data`) and get the next `horizon` values with interval bounds,
    or name a series in MongoDB (`collection_name`) to forecast from its latest points. The
    champion answers, unless `version` pins another (a number, or an alias such as `challenger`)."""
    state = app_state(request)
    settings = state.settings
    body = decode(_predict_decoder, await read_body(request))
    if body.horizon > settings.max_horizon:
        raise InvalidInput(f"horizon={body.horizon} is over the limit of {settings.max_horizon} (MAX_HORIZON)")
    if body.data is not None:
        if body.collection_name is not None:
            raise InvalidInput("send either data or collection_name, not both")
        if len(body.data) == 0:
            raise InvalidInput("data is empty: send at least window_size points")
        if len(body.data) > settings.max_points:
            raise InvalidInput(
                f"data has {len(body.data)} points, over the limit of {settings.max_points} (MAX_POINTS)"
            )
        served = await _served(state, body.model, body.version)
        times, values, steps = prediction.series_from_points(body.data)
        series = None
    elif body.collection_name is not None:
        served, times, values = await _series_from_mongo(state, body)
        steps = prediction.steps_between(times)
        series = {
            "collection": body.collection_name,
            "value_field": body.value_field,
            "timestamp_field": body.timestamp_field,
            "filter": dict(body.filter or {}),
        }
    else:
        raise InvalidInput("send data (a list of {timestamp, value} points) or collection_name")
    model = served.model
    times, values, steps = prediction.mind_the_gaps(served.name, model, times, values, steps)
    prediction.check_window(served.name, model, len(values), body.window_size)
    step_seconds = (model.metadata or {}).get("step_seconds")
    stamps, target_ms = prediction.next_timestamps(times, steps, body.horizon, step_seconds)
    times = prediction.target_times(served.name, model, target_ms)
    point_list, lower_list, upper_list = prediction.forecast(model, values, body.horizon, times)
    served.counter.inc()
    if target_ms is not None and state.log.enabled and state.store.models.get(served.name) is served:
        _log(state, request, served, series, target_ms, values, point_list, lower_list, upper_list)
    forecasts = [
        {"timestamp": t, "value": v, "lower": lo, "upper": hi}
        for t, v, lo, hi in zip(stamps, point_list, lower_list, upper_list)
    ]
    answer = {
        "prediction": forecasts[0]["value"],
        "predictions": forecasts,
        "model": served.ref,
        "window_size": model.window_size,
        "horizon": body.horizon,
    }
    return JsonBytes(_encode(answer))


def _log(
    state: AppState,
    request: Request,
    served: ServedModel,
    series: dict[str, Any] | None,
    target_ms: list[int],
    values: list[float],
    *forecast: list[float],
) -> None:
    """Queue the champion's forecast and the series' challenger's window (its shadow)."""
    challenger = state.store.challengers.get(served.name)
    state.log.add(served, challenger, series, _request_id(request.scope), target_ms, *forecast, values)


def _request_id(scope: dict[str, Any]) -> str | None:
    """The client's X-Request-ID; None lets the log make one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value.decode("latin-1")
    return None


async def _served(state: AppState, name: str | None, version: str | None) -> ServedModel:
    """The model a request names: its champion, or the version it pins."""
    return state.store.pick(name) if version is None else await state.store.pinned(name, version)


async def _series_from_mongo(state: AppState, body: PredictRequest) -> tuple[ServedModel, list[float], list[float]]:
    spec = SeriesSpec(body.collection_name, body.value_field, body.timestamp_field, body.filter or {})
    store = state.store
    served = await _served(
        state, body.model or (spec.model_name if spec.model_name in store.models else None), body.version
    )
    with state.database.answering():
        frame = await read_series_async(await state.database.db(), spec, limit=max(served.model.window_size, 2))
    series = to_arrays(frame.dropna(subset=["timestamp_utc", "value_float"]))
    times = series.timestamps.astype("datetime64[ms]").astype(np.float64)
    return served, times.tolist(), series.values.tolist()


_BATCH_DOC = body_doc(struct_schema(BatchRequest), EXAMPLES["BatchRequest"])
_BATCH_DOC["requestBody"]["content"][arrays.NPY] = {
    "schema": {"type": "string", "format": "binary", "description": "numpy.save of float64 (windows, window_size)"}
}
_BATCH_DOC["parameters"] = [
    {"name": name, "in": "query", "required": False, "schema": {"type": kind}, "description": text}
    for name, kind, text in (
        ("horizon", "integer", "Steps per window (a .npy body; default 1)."),
        ("model", "string", "The model (a .npy body; default the API's)."),
        ("version", "string", "A version or alias to pin (a .npy body)."),
        ("timestamp", "string", "When every window's first forecast falls, for a model that reads the calendar."),
    )
]


@router.post(
    "/predict/batch",
    summary="Forecast many windows in one call",
    openapi_extra=_BATCH_DOC,
    responses={200: answer_doc(struct_schema(BatchResponse)), **errors(404, 422, 503)},
)
async def predict_batch(request: Request) -> Response:
    """Each window is `window_size` values, oldest first; the answer has one row of `horizon`
    forecasts (and bounds) per window, computed in one vectorised call. Send JSON, or a `.npy`
    array (`Content-Type: application/x-npy`, options in the query) to get one back: shape
    (3, windows, horizon), forecasts then lower and upper bounds, the model in X-Model-* headers."""
    state = app_state(request)
    body = await read_body(request)
    binary = arrays.is_npy(request.headers.get("content-type"))
    if binary:
        query = request.query_params
        horizon = _positive(query.get("horizon", "1"), "horizon")
        served = await _served(state, query.get("model") or None, query.get("version") or None)
        windows = arrays.read_windows(body, served.model.window_size)
        stamp = query.get("timestamp")
        stamps = None if not stamp else [float(stamp) if _number(stamp) else stamp]
    else:
        parsed = decode(_batch_decoder, body)
        horizon = parsed.horizon
        served = await _served(state, parsed.model, parsed.version)
        windows = _json_windows(parsed.windows, served)
        stamps = parsed.timestamps
    targets = prediction.batch_targets(served.name, served.model, stamps, len(windows))
    predicted, lower, upper = _forecast_batch(state.settings, served, windows, horizon, targets)
    if binary:
        headers = {"X-Model-Name": served.name, "X-Model-Version": served.version, "X-Model-Alias": served.alias or ""}
        return Response(arrays.npy_bytes(np.stack([predicted, lower, upper])), media_type=arrays.NPY, headers=headers)
    answer = {
        "predictions": np.ascontiguousarray(predicted),
        "lower": np.ascontiguousarray(lower),
        "upper": np.ascontiguousarray(upper),
        "model": served.ref,
        "horizon": horizon,
    }
    return Response(orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), media_type=JSON)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _positive(text: str, name: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise InvalidInput(f"{name}={text[:20]!r} in the query must be a whole number of 1 or more")
    return int(text)


def _json_windows(windows: list[list[float]], served: ServedModel) -> np.ndarray:
    w = served.model.window_size
    try:
        array = np.array(windows, dtype=np.float64) if windows else np.empty((0, w))
    except ValueError:
        array = None
    if array is None or array.ndim != 2 or array.shape[1] != w:
        raise InvalidInput(f"every window must hold window_size={w} values (model {served.name})")
    return array


def _forecast_batch(
    settings: Settings, served: ServedModel, windows: np.ndarray, horizon: int, targets: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not len(windows):
        raise InvalidInput("windows is empty: send at least one window")
    if len(windows) > settings.max_batch_windows:
        raise InvalidInput(
            f"{len(windows)} windows is over the limit of {settings.max_batch_windows} (MAX_BATCH_WINDOWS)"
        )
    if horizon > settings.max_horizon:
        raise InvalidInput(f"horizon={horizon} is over the limit of {settings.max_horizon} (MAX_HORIZON)")
    if not np.all(np.isfinite(windows)):
        raise InvalidInput("windows must hold finite numbers only")
    predicted = served.model.forecast_windows(windows, horizon, targets)
    lower, upper = served.model.bounds(predicted)
    served.counter.inc(len(windows))
    return predicted, lower, upper
