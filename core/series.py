"""What a series is (collection + value field + equality filter), how its input is checked, and the
name of its registered model.

Names and filters may come from HTTP, so they are checked here, once, for everything that reads
Mongo: a filter is plain field/value pairs, never an operator, and a name holds nothing Mongo
would read as syntax.
"""

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import InvalidInput

Scalar = str | int | float | bool | None

# The name patterns, once: the API's schemas and the training request reuse these strings.
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$"
FIELD_PATH_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_][A-Za-z0-9_\-]*)*$"
MAX_NAME = 120
COLLECTION_RULE = "collection_name must be 1-120 letters, digits, '_' or '-' (no '$', '.', spaces or NUL)"
MAX_FIELD_PATH = 200

_COLLECTION = re.compile(NAME_PATTERN)
_FIELD_SEGMENT = re.compile(NAME_PATTERN)
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


class SeriesSpecError(InvalidInput):
    """A collection name, field name or filter that cannot be used; the message says why."""


def check_collection_name(name: object) -> str:
    if not isinstance(name, str) or len(name) > MAX_NAME or not _COLLECTION.fullmatch(name):
        raise SeriesSpecError(f"{COLLECTION_RULE}, got {name!r}")
    return name


def check_field_path(path: object, what: str = "field") -> str:
    """A document field, dotted for nested ones (`additional_features.sensor_id`)."""
    if not isinstance(path, str) or not path or len(path) > MAX_FIELD_PATH:
        raise SeriesSpecError(f"{what} must be a non-empty field name, got {path!r}")
    for segment in path.split("."):
        if not _FIELD_SEGMENT.fullmatch(segment):
            raise SeriesSpecError(
                f"{what} {path!r} is not a plain field path: each dot-separated part must be letters, digits, "
                "'_' or '-' (operators such as '$gt' are not accepted)"
            )
    return path


def check_filter(filter_: object) -> dict[str, Scalar]:
    """Equality pairs only: `{"additional_features.sensor_id": "sensor_1"}`."""
    if filter_ is None:
        return {}
    if not isinstance(filter_, Mapping):
        raise SeriesSpecError(f"filter must be an object of field/value pairs, got {type(filter_).__name__}")
    checked: dict[str, Scalar] = {}
    for key, value in filter_.items():
        check_field_path(key, "filter field")
        if isinstance(value, float) and not math.isfinite(value):
            raise SeriesSpecError(f"filter value for {key!r} must be a finite number, got {value!r}")
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise SeriesSpecError(
                f"filter value for {key!r} must be a plain string, number, boolean or null "
                f"(operators and nested objects are not accepted), got {json.dumps(value, default=str)[:80]}"
            )
        checked[key] = value
    return checked


def parse_filter_args(items: list[str]) -> dict[str, Scalar]:
    """CLI filters: `key=value` is a string; `key:=json` a typed value (`sensor_id:=3`)."""
    parsed: dict[str, Any] = {}
    for item in items:
        if ":=" in item:
            key, raw = item.split(":=", 1)
            try:
                parsed[key] = json.loads(raw)
            except ValueError:
                raise SeriesSpecError(
                    f"filter {item!r}: the part after ':=' must be JSON (3, 2.5, true, null)"
                ) from None
        elif "=" in item:
            key, value = item.split("=", 1)
            parsed[key] = value
        else:
            raise SeriesSpecError(f"filter {item!r} must look like key=value (or key:=json for a typed value)")
    return check_filter(parsed)


@dataclass(frozen=True)
class SeriesSpec:
    collection: str
    value_field: str = "value"
    timestamp_field: str = "timestamp"
    filter: Mapping[str, Scalar] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_collection_name(self.collection)
        check_field_path(self.value_field, "value_field")
        check_field_path(self.timestamp_field, "timestamp_field")
        object.__setattr__(self, "filter", check_filter(self.filter))

    @property
    def model_name(self) -> str:
        """`{collection}.{value_field}`, then `.{last part of key}-{value}` per filter key, in key
        order; characters other than letters, digits, `_`, `.` and `-` become `_`.
        e.g. `sensor_readings.value.sensor_id-temp_office`."""
        parts = [self.collection, self.value_field]
        for key in sorted(self.filter):
            parts.append(f"{key.rsplit('.', 1)[-1]}-{self.filter[key]}")
        return _NAME_UNSAFE.sub("_", ".".join(str(p) for p in parts))

    def describe(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in sorted(self.filter.items()))
        return f"{self.collection}.{self.value_field}" + (f" where {where}" if where else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "value_field": self.value_field,
            "timestamp_field": self.timestamp_field,
            "filter": dict(self.filter),
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> "SeriesSpec":
        return cls(
            collection=document["collection"],
            value_field=document.get("value_field", "value"),
            timestamp_field=document.get("timestamp_field", "timestamp"),
            filter=document.get("filter") or {},
        )
