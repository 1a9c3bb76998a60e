"""The prediction log: every forecast the API answers with timestamps, kept in Mongo so the
monitoring flow can later join it with the actual values.

Off the request path: a request only appends a small dict to a bounded in-memory queue; a
background task inserts batches. When Mongo is slow or away the queue keeps the newest
PREDICTION_LOG_QUEUE entries and counts what it drops; a request never waits for the log.
"""

import asyncio
import logging
import time
from collections import deque
from datetime import UTC, datetime
from itertools import chain
from typing import Any

import numpy as np
from pymongo import ASCENDING

from core.monitoring import MILLISECONDS, NUMBERS, packed
from core.settings import Settings
from serving import observability
from serving.database import Database

log = logging.getLogger(__name__)

BATCH = 500
INTERVAL_SECONDS = 0.5
# Single-field indexes: both servers use them (nx-27017 ignores compound ones).
INDEXED = ("model", "issued_at", "first_target_ms")


class PredictionLog:
    def __init__(self, settings: Settings, database: Database):
        self.enabled = settings.prediction_log
        self.collection = settings.prediction_log_collection
        self.capacity = settings.prediction_log_queue
        self.database = database
        self.queue: deque[dict[str, Any]] = deque()
        self.written = 0
        self.dropped = 0
        self._wake: asyncio.Event | None = None  # made in run(): an event belongs to its loop
        self._indexed = False
        self._last_warning = 0.0

    def record(
        self,
        served: Any,
        role: str,
        series: dict[str, Any] | None,
        request_id: str,
        target_ms: list[int] | None,
        values: list[float],
        lower: list[float],
        upper: list[float],
    ) -> None:
        """Queue one forecast (O(1), no I/O). Forecasts without timestamps cannot be matched: skipped."""
        if self.enabled and target_ms:
            self._queue(served, role, series, request_id, target_ms, {"value": values, "lower": lower, "upper": upper})

    def shadow(
        self, challenger: Any, series: dict[str, Any] | None, request_id: str, target_ms: list[int], window: np.ndarray
    ) -> None:
        """Queue the challenger's forecast of the same request, computed later by the writer for
        the whole batch in one vectorised call: the request pays for a reference, not a forecast."""
        if self.enabled and target_ms:
            self._queue(challenger, "challenger", series, request_id, target_ms, {"shadow": (challenger.model, window)})

    def _queue(
        self,
        served: Any,
        role: str,
        series: dict[str, Any] | None,
        request_id: str,
        target_ms: list[int],
        forecast: dict[str, Any],
    ) -> None:
        if len(self.queue) >= self.capacity:
            self.queue.popleft()
            self._count_drop(1)
        self.queue.append(
            {
                "model": served.name,
                "version": served.version,
                "role": role,
                "series": series if series is not None else served.series,
                "request_id": request_id,
                "issued_at": time.time(),
                "first_target_ms": target_ms[0],
                "target_ms": target_ms,
                **forecast,
            }
        )
        if len(self.queue) >= BATCH and self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Write what is queued, in batches, until cancelled (then one last flush is tried)."""
        self._wake = wake = asyncio.Event()
        try:
            while True:
                try:
                    await asyncio.wait_for(wake.wait(), INTERVAL_SECONDS)
                except TimeoutError:
                    pass
                wake.clear()
                await self.flush()
        except asyncio.CancelledError:
            if self.queue:
                await asyncio.wait_for(self.flush(drain=True), timeout=2)
            raise

    async def flush(self, drain: bool = False) -> None:
        """Write one batch, then more only while full batches wait (or everything, to drain):
        the requests that arrive during an insert wait for the next tick instead of each
        becoming an insert of its own."""
        first = True
        while self.queue and (first or drain or len(self.queue) >= BATCH):
            first = False
            batch = [self.queue.popleft() for _ in range(min(BATCH, len(self.queue)))]
            try:
                db = await self.database.db()
                target = db[self.collection]
                if not self._indexed:
                    for field in INDEXED:
                        await target.create_index([(field, ASCENDING)])
                    self._indexed = True
                # Three steps of under half a millisecond each, the loop free between them.
                _forecast_shadows(batch)
                await asyncio.sleep(0)
                documents = _grouped(batch)
                await asyncio.sleep(0)
                await target.insert_many(documents, ordered=False)
            except Exception as exc:  # noqa: BLE001 - the log never fails a request or the API
                self._requeue(batch)
                self._warn(exc)
                return
            self.written += len(batch)

    def _requeue(self, batch: list[dict[str, Any]]) -> None:
        self.queue.extendleft(reversed(batch))
        overflow = len(self.queue) - self.capacity
        for _ in range(max(overflow, 0)):
            self.queue.popleft()
        self._count_drop(max(overflow, 0))

    def _count_drop(self, count: int) -> None:
        if count:
            self.dropped += count
            observability.PREDICTION_LOG_DROPPED.inc(count)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > 30:
            self._last_warning = now
            log.warning(
                "prediction log: cannot write to %s (%s: %s); %d forecasts queued, %d dropped so far",
                self.collection,
                type(exc).__name__,
                str(exc)[:200],
                len(self.queue),
                self.dropped,
            )

    def describe(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "collection": self.collection,
            "queued": len(self.queue),
            "written": self.written,
            "dropped": self.dropped,
        }


def _forecast_shadows(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill in the challengers' forecasts of a batch: one forecast_windows call per model and
    horizon for all the windows queued with it (each entry gets its rows, as views)."""
    pending: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for entry in batch:
        if "shadow" in entry:
            pending.setdefault((id(entry["shadow"][0]), len(entry["target_ms"])), []).append(entry)
    for (_, horizon), entries in pending.items():
        model = entries[0]["shadow"][0]
        windows = np.stack([entry.pop("shadow")[1][-model.window_size :] for entry in entries])
        point = model.forecast_windows(windows, horizon)
        lower, upper = model.bounds(point)
        for entry, p, lo, hi in zip(entries, point, lower, upper):
            entry.update(value=p, lower=lo, upper=hi)
    return batch


def _numbers(entries: list[dict[str, Any]], name: str) -> bytes:
    """One column of a group, packed: rows of a shadow forecast are arrays, the champion's lists."""
    if isinstance(entries[0][name], np.ndarray):
        return np.concatenate([e[name] for e in entries]).astype(NUMBERS).tobytes()
    return packed(chain.from_iterable(e[name] for e in entries), NUMBERS)


def _grouped(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One document per model, version, role and series of the batch, its forecasts side by side:
    a thousand forecasts a second become a few documents, which the database (and the monitor
    reading them back) handle far more cheaply than a thousand."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for entry in batch:
        key = (entry["model"], entry["version"], entry["role"], repr(entry["series"]))
        groups.setdefault(key, []).append(entry)
    documents = []
    for entries in groups.values():
        first = entries[0]
        documents.append(
            {
                "model": first["model"],
                "version": first["version"],
                "role": first["role"],
                "series": first["series"],
                "issued_at": datetime.fromtimestamp(first["issued_at"], UTC),
                "first_target_ms": min(e["first_target_ms"] for e in entries),
                "count": len(entries),
                "request_id": [e["request_id"] for e in entries],
                "horizon": [len(e["target_ms"]) for e in entries],
                "issued_ms": packed((int(e["issued_at"] * 1000) for e in entries), MILLISECONDS),
                "target_ms": packed(chain.from_iterable(e["target_ms"] for e in entries), MILLISECONDS),
                **{name: _numbers(entries, name) for name in ("value", "lower", "upper")},
            }
        )
    return documents
