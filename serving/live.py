"""The live figures the monitoring flow wrote (core/monitoring.py), read by the API in the
background: for `/monitoring`, `/model/info` and the `mlts_live_*` Prometheus gauges."""

import asyncio
import logging
from typing import Any

import numpy as np

from core.monitoring import MONITORING_COLLECTION
from ml.intervals import PredictionIntervals
from serving import observability
from serving.database import Database
from serving.model_store import ModelStore

log = logging.getLogger(__name__)


class LiveFigures:
    def __init__(self, database: Database, store: ModelStore):
        self.database = database
        self.store = store
        self.documents: dict[str, dict[str, Any]] = {}

    async def refresh(self) -> None:
        db = await self.database.db()
        cursor = db[MONITORING_COLLECTION].find({}, {"_id": 0, "report_html": 0})
        documents = {doc["model"]: doc async for doc in cursor if "model" in doc}
        self.documents = documents
        for doc in documents.values():
            _export(doc)
            self._recalibrate(doc)

    def _recalibrate(self, doc: dict[str, Any]) -> None:
        """Serve the interval offsets the monitor recalibrated from the champion's live errors, so
        coverage holds when the noise level changes (only for the version they were measured on)."""
        found = doc.get("intervals") or {}
        served = self.store.models.get(doc["model"])
        if not found or served is None or str(found.get("version")) != served.version:
            return
        lower, upper = np.asarray(found["lower"], dtype=np.float64), np.asarray(found["upper"], dtype=np.float64)
        current = served.model.intervals
        if current is not None and np.array_equal(current.lower, lower) and np.array_equal(current.upper, upper):
            return
        if len(lower) and np.isfinite(lower).all() and np.isfinite(upper).all():
            served.model.intervals = PredictionIntervals(float(found["level"]), lower, upper)
            log.info("%s version %s: intervals recalibrated from live errors", served.name, served.version)

    async def report(self, model: str) -> str | None:
        db = await self.database.db()
        doc = await db[MONITORING_COLLECTION].find_one({"_id": model}, {"report_html": 1})
        return (doc or {}).get("report_html")

    async def follow(self, every: float) -> None:
        """Read the figures now and every `every` seconds; Mongo away only means stale figures."""
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # noqa: BLE001
                log.debug("live figures not refreshed: %s", exc)
            await asyncio.sleep(every)


def _export(doc: dict[str, Any]) -> None:
    model = doc["model"]
    for role, figures in (doc.get("roles") or {}).items():
        labels = (model, str(figures.get("version", "")), role)
        observability.LIVE_ACTUALS.labels(*labels).set(figures.get("n") or 0)
        if figures.get("rmse") is not None:
            observability.LIVE_RMSE.labels(*labels).set(figures["rmse"])
        if figures.get("coverage") is not None:
            observability.LIVE_COVERAGE.labels(*labels).set(figures["coverage"])
    drift = doc.get("drift") or {}
    for kind in ("performance", "data"):
        detected = bool((drift.get(kind) or {}).get("detected"))
        observability.DRIFT_DETECTED.labels(model, kind).set(1 if detected else 0)
