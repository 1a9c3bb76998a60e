"""The monitoring flows: how each served model's forecasts turned out, whether its series
drifted, and what mlts does about it (retrain, promote the challenger on live evidence, alert).
`monitor_series` assesses one model; `monitor_all` every model of a config file, or every model
with logged forecasts. Each writes its findings to the model's document in `mlts_monitoring`
(which the API reads), as tags on the versions (`mlts.live_*`) and as metrics of a monitoring
run per version in the series' experiment, so the MLflow UI plots live error over time.
"""

import contextvars
import json
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from prefect import flow, get_run_logger
from pymongo.database import Database

from core import registry
from core.errors import Conflict
from core.locks import training_lock
from core.mongo import connect, database_url
from core.monitoring import MONITORING_COLLECTION, storable
from core.registry import PROMOTED, Tag
from core.series import SeriesSpec
from core.settings import Settings, get_settings
from core.training_config import TrainingConfig, load_retrain_config
from ml import drift as drift_tests
from ml import monitoring as stats
from pipelines import alerts, live, monitoring_runs, report, reports
from pipelines.flows import train_series
from pipelines.promotion import Decision, apply

EVENTS_KEPT = 50
WORKERS = 4


@flow(name="monitor-series", log_prints=True)
def monitor_series(model: str) -> dict[str, Any]:
    """Assess one model's served forecasts against the actuals and act on what is found."""
    settings = get_settings()
    with connect(database_url(settings), settings.mongodb_timeout_ms) as mongo:
        return assess(mongo[settings.mongodb_database], settings, model, datetime.now(UTC))


@flow(name="monitor-all", log_prints=True)
def monitor_all(config_path: str | None = None, models: list[str] | None = None) -> dict[str, Any]:
    """Every model of the config file (or those named, or every model with logged forecasts), a
    few at a time; a table artifact summarises what was seen and done."""
    settings = get_settings()
    logger = get_run_logger()
    now = datetime.now(UTC)
    with connect(database_url(settings), settings.mongodb_timeout_ms) as mongo:
        db = mongo[settings.mongodb_database]
        names = list(models or [])
        if config_path:
            names += [config.spec.model_name for config in load_retrain_config(config_path)]
        if not names:
            names = sorted(db[settings.prediction_log_collection].distinct("model"))

        def one(name: str) -> dict[str, Any]:
            try:
                return assess(db, settings, name, now)
            except Exception as exc:  # noqa: BLE001 - one model failing never stops the others
                logger.error("monitoring %s failed: %s", name, exc, exc_info=True)
                return {"model": name, "status": "failed", "action": f"monitoring failed: {exc}"}

        # Threads overlap the waits on Mongo and MLflow; each carries this flow run's context.
        with ThreadPoolExecutor(max_workers=max(1, min(WORKERS, len(names)))) as pool:
            contexts = [contextvars.copy_context() for _ in names]  # copied here, in the flow's thread
            results = list(pool.map(lambda context, name: context.run(one, name), contexts, names))
        cutoff = now - timedelta(days=settings.prediction_log_retention_days)
        pruned = db[settings.prediction_log_collection].delete_many({"issued_at": {"$lt": cutoff}}).deleted_count
    reports.monitoring_table(results)
    logger.info("monitored %d models; %d logged forecasts past retention deleted", len(results), pruned)
    return {"models": results, "pruned": pruned}


def assess(db: Database, settings: Settings, model: str, now: datetime) -> dict[str, Any]:
    """Figures, drift and actions for one model; the document stored in mlts_monitoring."""
    logger = get_run_logger()
    since = now - timedelta(days=settings.monitor_window_days)
    forecasts = live.load_forecasts(db, settings.prediction_log_collection, model, since)
    base = {"_id": model, "model": model, "updated_at": now, "window_days": settings.monitor_window_days}
    if not len(forecasts) or forecasts.series is None or forecasts.step_ms is None:
        return _store(db, {**base, "status": "waiting", "action": "none: too few logged forecasts to match"})
    spec = SeriesSpec.from_dict(forecasts.series)
    joined = live.join(db, spec, forecasts, forecasts.step_ms)
    client = registry.client(settings)
    versions = {
        role: registry.version_by_alias(client, model, alias)
        for role, alias in (("champion", settings.model_alias), ("challenger", settings.challenger_alias))
    }
    roles = {}
    for role, version in versions.items():
        if version is not None:
            rows = live.select(joined, role, str(version.version))
            holdout = _number((version.tags or {}).get(Tag.RMSE))
            roles[role] = {"version": str(version.version), "holdout_rmse": holdout, **live.figures(joined, rows)}
    previous = db[MONITORING_COLLECTION].find_one({"_id": model}) or {}
    doc = {**base, "status": "measured", "series": spec.to_dict(), "roles": roles}
    champion = versions["champion"]
    if champion is None:
        return _store(db, {**doc, "action": "none: no champion"})
    errors, targets = live.one_step_errors(joined, live.select(joined, "champion", str(champion.version)))
    naive = float(np.sqrt(np.mean(np.diff(joined.reference) ** 2))) if len(joined.reference) > 1 else 1.0
    reference_rmse = roles["champion"]["holdout_rmse"] or naive or 1.0
    performance = drift_tests.cusum_drift(
        errors, reference_rmse, h=settings.drift_cusum_threshold, min_count=settings.monitor_min_actuals
    )
    data = drift_tests.distribution_drift(
        joined.reference, joined.recent, alpha=settings.drift_ks_alpha, min_count=settings.monitor_min_actuals
    )
    drift = {"detected": performance.detected or data.detected, "performance": _evidence(performance)}
    drift["data"] = _evidence(data)
    doc["drift"] = drift
    doc["intervals"] = _recalibrated(joined, str(champion.version), settings)
    actions = [_live_promotion(db, client, settings, model, joined, versions, doc)]
    change = performance.details.get("change_index") if performance.detected else None
    since_ms = int(targets[change]) if change is not None else None
    if drift["detected"] and not actions[0]:
        action, doc["last_retrain"] = _retrain(client, settings, spec, champion, joined, since_ms, drift, previous, now)
        actions.append(action)
    doc["action"] = "; ".join(a for a in actions if a) or "none"
    sent = alerts.on_conditions(settings, model, doc, joined, now, previous)
    doc["last_alert"] = sent[-1] if sent else previous.get("last_alert")
    events = _events(doc, previous, sent, performance, targets, joined.newest_actual_ms, now)
    doc["events"] = (list(previous.get("events") or []) + events)[-EVENTS_KEPT:]
    doc["last_retrain"] = doc.get("last_retrain") or previous.get("last_retrain")
    doc["interval_level"] = settings.interval_level
    runs = monitoring_runs.record(client, settings, model, roles, drift, now)
    doc["report_html"] = report.render(doc, joined, str(champion.version))
    if str(champion.version) in runs:
        client.log_text(runs[str(champion.version)], doc["report_html"], "monitoring/report.html")
    logger.info("%s: %s", model, reports.monitoring_line(doc))
    return _store(db, doc)


def _events(
    doc: dict,
    previous: dict,
    sent: list[dict],
    performance: Any,
    targets: np.ndarray,
    newest: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """What happened in this pass worth a line in the report (and a marker on its charts)."""
    events = []
    if doc["drift"]["detected"] and not (previous.get("conditions") or {}).get("drift"):
        index = performance.index if performance.detected else None
        at = int(targets[index]) if index is not None and index < len(targets) else None
        events.append({"at": now, "kind": "drift", "text": alerts.drift_words(doc["drift"]), "target_ms": at})
    if doc.get("last_retrain"):
        events.append({"at": now, "kind": "retraining", "text": doc["action"], "target_ms": newest})
    if "on live evidence" in doc["action"]:
        events.append({"at": now, "kind": "promotion", "text": doc["action"], "target_ms": newest})
    events += [{"at": now, "kind": f"alert ({a['kind']})", "text": a["seen"], "target_ms": None} for a in sent]
    return events


def _evidence(test: Any) -> dict[str, Any]:
    return {"detected": bool(test.detected), **test.evidence()}


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _recalibrated(joined: live.Joined, version: str, settings: Settings) -> dict[str, Any] | None:
    rows = live.select(joined, "champion", version)
    if not rows.any():
        return None
    f = joined.forecasts
    found = stats.recalibrate_intervals(
        joined.actual[rows] - f.value[rows], f.step[rows], settings.interval_level, int(f.step[rows].max())
    )
    if found is None:
        return None
    lower, upper = found
    return {"version": version, "level": settings.interval_level, "lower": lower.tolist(), "upper": upper.tolist()}


def _live_promotion(
    db: Database, client: Any, settings: Settings, model: str, joined: live.Joined, versions: dict, doc: dict
) -> str | None:
    """Promote the challenger when its live one-step errors beat the champion's on the same
    targets by a Diebold-Mariano test; record the test either way."""
    champion, challenger = versions["champion"], versions["challenger"]
    if challenger is None:
        return None
    a, b = live.paired_errors(joined, str(champion.version), str(challenger.version))
    if len(a) < settings.monitor_min_actuals:
        return None
    test = stats.diebold_mariano(a, b)
    doc["live_test"] = {"champion": str(champion.version), "challenger": str(challenger.version), **test.to_dict()}
    if not settings.live_promotion or test.p_value >= settings.live_promotion_alpha or np.mean(b * b) >= np.mean(a * a):
        return None
    rmse_a, rmse_b = float(np.sqrt(np.mean(a * a))), float(np.sqrt(np.mean(b * b)))
    reason = (
        f"live evidence: challenger RMSE {rmse_b:.6g} vs champion {rmse_a:.6g} on the same {len(a)} actuals, "
        f"Diebold-Mariano p={test.p_value:.3g} < {settings.live_promotion_alpha}"
    )
    try:
        with training_lock(db, model, settings.training_lock_ttl_seconds, "live promotion"):
            decision = Decision(PROMOTED, reason, rmse_b, str(champion.version), rmse_a, "live")
            apply(client, settings, model, str(challenger.version), decision, challenger.run_id, by="live evidence")
            registry.writer(client).set_model_version_tag(
                model, str(challenger.version), "mlts.live_test", json.dumps(doc["live_test"])
            )
    except Conflict:
        return "live promotion deferred: the series is being trained"
    return f"promoted challenger version {challenger.version} on live evidence"


def retrain_options(params: dict[str, str]) -> dict[str, Any]:
    """What a drift retraining keeps of the champion's run: window, gap policy, and tuning (a
    tuned champion's successor is chosen the same way)."""
    kept = ("window_size", "gaps", "max_gap_points")
    options: dict[str, Any] = {k: params[k] for k in kept if params.get(k) not in (None, "None")}
    return options | ({"tune": True} if params.get("tune") == "True" else {})


def _retrain(
    client: Any,
    settings: Settings,
    spec: SeriesSpec,
    champion: Any,
    joined: live.Joined,
    since_ms: int | None,
    drift: dict,
    previous: dict,
    now: datetime,
) -> tuple[str, dict[str, Any] | None]:
    """Retrain the series (a `train_series` subflow tagged mlts.trigger=drift, the evidence on its
    run); the champion gate decides as for any training. Not again within the cool-down.

    After a change in performance the new model learns from the points since the change, once
    there are enough of them: trained on the old regime with the new one only in its holdout, it
    would forecast no better than the model it replaces."""
    last = (previous.get("last_retrain") or {}).get("at")
    if not settings.drift_retrain:
        return "drift detected; retraining is off (DRIFT_RETRAIN)", None
    if last and now - _aware(last) < timedelta(hours=settings.drift_cooldown_hours):
        return f"drift detected; retrained at {_aware(last).isoformat()}, within DRIFT_COOLDOWN_HOURS", None
    params = client.get_run(champion.run_id).data.params if champion.run_id else {}
    options = retrain_options(params)
    if since_ms is not None:
        window = int(options.get("window_size") or settings.default_window_size)
        needed = settings.drift_retrain_min_points or max(100, 10 * window)
        arrived = int(np.count_nonzero(joined.recent_ms >= since_ms))
        if arrived < needed:
            waiting = f"retraining once {needed} points since the change at {live.iso(since_ms)} are in"
            return f"drift detected; {waiting} ({arrived} so far)", None
        options["limit"] = arrived
    config = TrainingConfig(**spec.to_dict(), **options)
    evidence = {k: v for k, v in drift.items() if k != "detected"}
    try:
        outcome = train_series(config, trigger="drift", return_state=True).result(raise_on_failure=False)
    except Exception as exc:  # noqa: BLE001
        outcome = {"status": "failed", "error": str(exc)}
    if not isinstance(outcome, dict):
        outcome = {"status": "failed", "error": str(outcome)}
    if outcome.get("run_id"):
        client.set_tag(outcome["run_id"], "mlts.drift_evidence", json.dumps(evidence, default=str)[:4900])
    record = {
        "at": now,
        "run_id": outcome.get("run_id"),
        "version": outcome.get("version"),
        "decision": outcome.get("decision") or outcome.get("status"),
        "error": outcome.get("error"),
    }
    decision = outcome.get("decision") or "failed"
    return f"drift detected; retrained: version {outcome.get('version')} {decision}", record


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _store(db: Database, doc: dict[str, Any]) -> dict[str, Any]:
    """Replace the model's document (delete and insert: the portable subset has no update); the
    findings are returned without the report page."""
    collection = db[MONITORING_COLLECTION]
    collection.delete_many({"_id": doc["_id"]})
    collection.insert_many([storable(doc)])
    return {k: v for k, v in doc.items() if k != "report_html"}
