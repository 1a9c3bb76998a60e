"""What the monitoring flow writes and the API reads: one document per model in Mongo.

The flow (pipelines/monitoring.py) computes the live figures and decides; the API only reads
this collection, so the two never call each other. (The prediction log the API writes for the
flow holds, per document, the forecasts of one model, version, role and series written
together: count, request_id[], issued_ms[], horizon[], and target_ms/value/lower/upper with
the steps of all of them flattened.)

    {_id: model, model, series, updated_at, window_days,
     roles: {champion: {version, n, mae, rmse, mase, bias, coverage, holdout_rmse, per_step}, challenger: {...}},
     drift: {detected, performance: {...}, data: {...}}, action,
     last_retrain: {at, run_id, version, decision, evidence} | None,
     last_alert: {at, kind, message, delivered} | None,
     intervals: {version, level, lower, upper} | None}
"""

from typing import Any

import numpy as np

MONITORING_COLLECTION = "mlts_monitoring"


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
