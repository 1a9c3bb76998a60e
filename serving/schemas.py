"""Request and response bodies of the API.

The hot routes (`/predict`, `/predict/batch`) decode with msgspec: typed decoding in C, a
message naming the JSON path of the first bad field, and no Python object per point beyond
one small struct. Their JSON Schema (for /docs and the fuzz tests) comes from the same structs,
given to FastAPI as the routes' `openapi_extra`. The training body is `TrainingConfig` itself.
"""

from typing import Annotated, Any

import msgspec
import pydantic
from msgspec import Meta, Struct

from core.series import FIELD_PATH_PATTERN, MAX_FIELD_PATH, MAX_NAME, NAME_PATTERN

Timestamp = Annotated[
    str | int | float,
    Meta(
        description="ISO-8601 date-time (`2024-01-01T00:00:00Z`, with or without a zone; none means UTC) "
        "or epoch milliseconds."
    ),
]
Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)]
FieldPath = Annotated[str, Meta(min_length=1, max_length=MAX_FIELD_PATH, pattern=FIELD_PATH_PATTERN)]
Scalar = str | int | float | bool | None
PositiveInt = Annotated[int, Meta(ge=1)]
Version = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description='A registered version (`"7"`) or an alias (`challenger`) of the model, for an answer that '
        "must be reproduced; the champion when left out.",
    ),
]


class Point(Struct, forbid_unknown_fields=False, gc=False):
    timestamp: Timestamp
    value: Annotated[float, Meta(description="A finite number.")]


class PredictRequest(Struct, forbid_unknown_fields=True):
    """Forecast from the points sent (`data`), or from the latest points of a series in MongoDB
    (`collection_name`, optional `filter`, `value_field`, `timestamp_field`)."""

    data: list[Point] | None = None
    window_size: PositiveInt | None = None
    horizon: PositiveInt = 1
    model: Annotated[str, Meta(min_length=1, max_length=300)] | None = None
    version: Version | None = None
    collection_name: Name | None = None
    filter: dict[FieldPath, Scalar] | None = None
    value_field: FieldPath = "value"
    timestamp_field: FieldPath = "timestamp"


class BatchRequest(Struct, forbid_unknown_fields=True):
    """Many windows (each `window_size` values, oldest first) forecast in one vectorised call."""

    windows: list[list[float]]
    horizon: PositiveInt = 1
    model: Annotated[str, Meta(min_length=1, max_length=300)] | None = None
    version: Version | None = None
    timestamps: (
        Annotated[
            list[Timestamp],
            Meta(
                description="When each window's first forecast falls (one for all windows, or one per window): "
                "needed by a model that reads the calendar, ignored by the others."
            ),
        ]
        | None
    ) = None


class Forecast(Struct):
    timestamp: str | None
    value: float
    lower: float
    upper: float


class ModelRef(Struct):
    name: str
    version: str
    alias: str
    run_id: str | None


class PredictResponse(Struct):
    prediction: float
    predictions: list[Forecast]
    model: ModelRef
    window_size: int
    horizon: int


class BatchResponse(Struct):
    predictions: list[list[float]]
    lower: list[list[float]]
    upper: list[list[float]]
    model: ModelRef
    horizon: int


class ErrorBody(pydantic.BaseModel):
    """Every error: what is wrong and what to send instead."""

    detail: str


EXAMPLES: dict[str, Any] = {
    "PredictRequest": {
        "data": [{"timestamp": f"2024-01-01T{h:02d}:00:00Z", "value": 20.0 + (h % 5)} for h in range(12)],
        "window_size": 10,
        "horizon": 3,
    },
    "BatchRequest": {"windows": [[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]], "horizon": 1},
}


JSON = "application/json"
ERROR = {"model": ErrorBody, "description": "What is wrong and what to send instead."}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Documented error answers; 422 among them keeps FastAPI from documenting its own list-shaped
    validation error, which this API never sends (see serving/errors.py)."""
    return {status: ERROR for status in statuses}


def inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema with its `$defs` references resolved in place, so an operation can carry it
    whole (the types here are not recursive)."""
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items() if key != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def struct_schema(struct: type) -> dict[str, Any]:
    return inline_schema(msgspec.json.schema(struct))


def body_doc(request: dict[str, Any], example: Any | None = None) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its own body: FastAPI's way to document one."""
    content: dict[str, Any] = {"schema": request}
    if example is not None:
        content["example"] = example
    return {"requestBody": {"required": True, "content": {JSON: content}}}


def answer_doc(response: dict[str, Any], description: str = "Successful Response") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": response}}}
