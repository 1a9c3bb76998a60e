"""What the monitoring flow writes and the API reads: one document per model in Mongo.

The flow (pipelines/monitoring.py) computes the live figures and decides; the API only reads
this collection, so the two never call each other.

    {_id: model, model, series, updated_at, window_days,
     roles: {champion: {version, n, mae, rmse, mase, bias, coverage, holdout_rmse, per_step}, challenger: {...}},
     drift: {detected, performance: {...}, data: {...}}, action,
     last_retrain: {at, run_id, version, decision, evidence} | None,
     last_alert: {at, kind, message, delivered} | None,
     intervals: {version, level, lower, upper} | None}
"""

MONITORING_COLLECTION = "mlts_monitoring"
ROLES = ("champion", "challenger")
