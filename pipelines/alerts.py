"""Alerts: a JSON POST to ALERT_WEBHOOK_URL (Slack-, Teams- or Alertmanager-style receivers take
it through their generic webhook), retried, bounded in time, and never fatal to the monitor."""

import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from core.masking import mask_url
from core.settings import Settings
from pipelines import live

log = logging.getLogger(__name__)

ATTEMPTS = 3
TIMEOUT_SECONDS = 5.0
COVERAGE_SLACK = 0.15  # alert when live coverage falls this far below the interval level
SILENT_STEPS = 3  # alert when this many steps of due forecasts have no actual


def send(settings: Settings, kind: str, model: str, seen: str, action: str, details: dict[str, Any]) -> dict[str, Any]:
    """Log the alert and post it when a webhook is set; returns the alert with `delivered`."""
    alert = {
        "source": "mlts",
        "kind": kind,
        "model": model,
        "seen": seen,
        "action": action,
        "at": datetime.now(UTC).isoformat(),
        "details": details,
    }
    log.warning("alert %s on %s: %s (action: %s)", kind, model, seen, action)
    url = settings.alert_webhook_url.get_secret_value() if settings.alert_webhook_url else None
    alert["delivered"] = _post(url, alert) if url else None
    return alert


def _post(url: str, alert: dict[str, Any]) -> bool:
    for attempt in range(ATTEMPTS):
        try:
            answer = httpx.post(url, json=alert, timeout=TIMEOUT_SECONDS)
            if answer.status_code < 300:
                return True
            problem = f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if attempt < ATTEMPTS - 1:
            time.sleep(0.5 * 2**attempt)
    log.error("alert not delivered to %s after %d attempts (%s)", mask_url(url), ATTEMPTS, problem)
    return False


def on_conditions(
    settings: Settings, model: str, doc: dict, joined: live.Joined, now: datetime, previous: dict
) -> list[dict[str, Any]]:
    """One alert per condition as it starts (not again while it lasts)."""
    was = previous.get("conditions") or {}
    champion = doc["roles"].get("champion") or {}
    coverage, n = champion.get("coverage"), champion.get("n") or 0
    conditions = {
        "drift": bool(doc["drift"]["detected"]),
        "coverage": coverage is not None
        and n >= settings.monitor_min_actuals
        and coverage < settings.interval_level - COVERAGE_SLACK,
        "silent": live.silent_for(joined, now.timestamp() * 1000) >= SILENT_STEPS,
    }
    doc["conditions"] = conditions
    seen = {
        "drift": f"drift: {drift_words(doc['drift'])}",
        "coverage": f"live interval coverage {coverage or 0:.1%} below the {settings.interval_level:.0%} level "
        f"over {n} actuals",
        "silent": f"no actual values for {live.silent_for(joined, now.timestamp() * 1000):.0f} steps of due forecasts",
    }
    return [
        send(settings, kind, model, seen[kind], doc["action"], {"roles": doc["roles"]})
        for kind, active in conditions.items()
        if active and not was.get(kind)
    ]


def drift_words(drift: dict[str, Any]) -> str:
    kinds = [kind for kind in ("performance", "data") if (drift.get(kind) or {}).get("detected")]
    return " and ".join(kinds) or "none"
