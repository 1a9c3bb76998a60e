"""Request and response bodies of the API.

The hot routes (`/predict`, `/predict/batch`) decode with msgspec: typed decoding in C, a
message naming the JSON path of the first bad field, and no Python object per point beyond
one small struct. Their JSON Schema (for /docs and the fuzz tests) comes from the same structs.
"""

from typing import Annotated, Any

import msgspec
import pydantic
from msgspec import Meta, Struct

Timestamp = Annotated[
    str | int | float,
    Meta(description="ISO-8601 date-time (`2024-01-01T00:00:00Z`, with or without a zone; none means UTC) or epoch milliseconds."),
]
Name = Annotated[str, Meta(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")]
FieldPath = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_][A-Za-z0-9_\-]*)*$")]
Scalar = str | int | float | bool | None
PositiveInt = Annotated[int, Meta(ge=1)]


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
    collection_name: Name | None = None
    filter: dict[FieldPath, Scalar] | None = None
    value_field: FieldPath = "value"
    timestamp_field: FieldPath = "timestamp"


class BatchRequest(Struct, forbid_unknown_fields=True):
    """Many windows (each `window_size` values, oldest first) forecast in one vectorised call."""

    windows: list[list[float]]
    horizon: PositiveInt = 1
    model: Annotated[str, Meta(min_length=1, max_length=300)] | None = None


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


def openapi_components(*types: type) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """JSON Schemas of msgspec types, referencing OpenAPI's components section."""
    return msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
