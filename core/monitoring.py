"""What the monitoring flow writes and the API reads: one document per model in Mongo.

The flow (pipelines/monitoring.py) computes the live figures and decides; the API only reads
this collection, so the two never call each other. (The prediction log the API writes for the
flow holds, per document, the forecasts of one model, version, role and series written
together: count; per forecast its request id, horizon and issued_ms; and target_ms, value,
lower, upper (the steps of all of them flattened). Numbers are packed as little-endian bytes
(int32 horizons, int64 milliseconds, float64 values): a database stores and returns a blob far
faster than thousands of numbers, and the embedded server five times faster. Request ids are
either a list (`request_id`, ids clients sent) or, for the API's own, one prefix and packed
sequence numbers (`request_prefix`, `request_seq`); `request_ids` reads both. `packed` and
`unpacked` are the two ends; documents written before the packing hold plain lists, which
`unpacked` reads too.)

    {_id: model, model, series, updated_at, window_days,
     roles: {champion: {version, n, mae, rmse, mase, bias, coverage, holdout_rmse, per_step}, challenger: {...}},
     drift: {detected, performance: {...}, data: {...}}, action,
     last_retrain: {at, run_id, version, decision, evidence} | None,
     last_alert: {at, kind, message, delivered} | None,
     intervals: {version, level, lower, upper} | None}
"""

from collections.abc import Iterable
from typing import Any

import numpy as np

MONITORING_COLLECTION = "mlts_monitoring"
MILLISECONDS = "<i8"
NUMBERS = "<f8"
STEPS = "<i4"
SEQUENCE = "<i8"


def packed(values: Iterable[float], dtype: str) -> bytes:
    """A log column as little-endian bytes (stored as BSON binary)."""
    return np.fromiter(values, dtype=dtype).tobytes()


def unpacked(stored: Any, dtype: str) -> np.ndarray:
    """A log column back as an array, packed or (older documents) a list."""
    if isinstance(stored, bytes):
        return np.frombuffer(stored, dtype=dtype)
    return np.asarray(stored, dtype=dtype)


def request_id(prefix: str, sequence: int) -> str:
    """An id the API made: its process's random prefix and a counter, 32 hex digits."""
    return f"{prefix}{sequence:016x}"


def request_ids(document: dict[str, Any]) -> list[str]:
    """The request ids of a prediction log document, one per forecast, whichever way it holds them."""
    if "request_seq" in document:
        prefix = document["request_prefix"]
        return [request_id(prefix, int(n)) for n in unpacked(document["request_seq"], SEQUENCE)]
    return list(document.get("request_id") or [])


def storable(value: Any) -> Any:
    """What BSON can store: numpy scalars and arrays become Python numbers and lists."""
    if isinstance(value, dict):
        return {str(k): storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
