"""The live figures the monitoring flow wrote (core/monitoring.py), read by the API in the
background: for `/monitoring`, `/model/info` and the `mlts_live_*` Prometheus gauges."""

import asyncio
import logging
from typing import Any

from core.monitoring import MONITORING_COLLECTION
from serving import observability
from serving.database import Database

log = logging.getLogger(__name__)


class LiveFigures:
    def __init__(self, database: Database):
        self.database = database
        self.documents: dict[str, dict[str, Any]] = {}

    async def refresh(self) -> None:
        db = await self.database.db()
        cursor = db[MONITORING_COLLECTION].find({}, {"_id": 0})
        documents = {doc["model"]: doc async for doc in cursor if "model" in doc}
        self.documents = documents
        for doc in documents.values():
            _export(doc)

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
