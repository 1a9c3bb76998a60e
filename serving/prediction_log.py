"""The prediction log: every forecast the API answers with timestamps, kept in Mongo so the
monitoring flow can later join it with the actual values.

Off the request path: a request only appends a small dict to a bounded in-memory queue; a
background task inserts batches. When Mongo is slow or away the queue keeps the newest
PREDICTION_LOG_QUEUE entries and counts what it drops; a request never waits for the log.
"""

import asyncio
import logging
import time
from array import array
from collections import deque
from datetime import UTC, datetime
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
from pymongo import ASCENDING

from core.monitoring import MILLISECONDS, NUMBERS, packed
from core.settings import Settings
from serving import observability
from serving.database import Database

log = logging.getLogger(__name__)

BATCH = 1000  # forecasts per insert: fewer, larger documents cost the database far less
CHUNK = 500  # forecasts grouped between two turns of the event loop, which this keeps under a millisecond
INTERVAL_SECONDS = 0.5
# Single-field indexes: both servers use them (nx-27017 ignores compound ones).
INDEXED = ("model", "issued_at", "first_target_ms")
CHAMPION, CHALLENGER = "champion", "challenger"


class PredictionLog:
    def __init__(self, settings: Settings, database: Database):
        self.enabled = settings.prediction_log
        self.collection = settings.prediction_log_collection
        self.capacity = settings.prediction_log_queue
        self.database = database
        self.queue: deque[tuple] = deque()
        self.written = 0
        self.dropped = 0
        self._wake: asyncio.Event | None = None  # made in run(): an event belongs to its loop
        self._indexed = False
        self._last_warning = 0.0

    def add(
        self,
        served: Any,
        challenger: Any,
        series: dict[str, Any] | None,
        request_id: str,
        target_ms: list[int] | None,
        values: list[float],
        lower: list[float],
        upper: list[float],
        window: list[float],
    ) -> None:
        """Queue the champion's forecast and, when there is a challenger whose window the points
        fill, the challenger's (a shadow: forecast by the writer for the whole batch in one
        vectorised call, so the request pays for a copy of its last window, not a forecast).
        O(1), no I/O. Forecasts without timestamps cannot be matched: skipped. A queue entry is
        (group, series, request id, issued at, target ms, values, lower, upper); a shadow's
        values are None, its lower the model and its upper the window as packed doubles."""
        if not (self.enabled and target_ms):
            return
        now = time.time()
        named = None if series is None else repr(series)
        queue = self.queue
        where = served.series if series is None else series
        self._keep_room()
        queue.append(
            ((served.name, served.version, CHAMPION, named), where, request_id, now, target_ms, values, lower, upper)
        )
        if challenger is not None and len(window) >= (w := challenger.model.window_size):
            where = challenger.series if series is None else series
            group = (challenger.name, challenger.version, CHALLENGER, named)
            self._keep_room()
            # Its last window as packed doubles, not the request's list of float objects: what
            # the queue holds stays small and the request's objects are freed at once.
            queue.append((group, where, request_id, now, target_ms, None, challenger.model, array("d", window[-w:])))
        if len(queue) >= BATCH and self._wake is not None:
            self._wake.set()

    def _keep_room(self) -> None:
        """Room for one more entry: the oldest goes, counted, when the queue is full."""
        if len(self.queue) >= self.capacity:
            self.queue.popleft()
            self._count_drop(1)

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
                documents: dict[tuple, dict[str, Any]] = {}
                for start in range(0, len(batch), CHUNK):
                    await asyncio.sleep(0)
                    _merge(documents, _grouped(batch[start : start + CHUNK]))
                await target.insert_many(list(documents.values()), ordered=False)
            except Exception as exc:  # noqa: BLE001 - the log never fails a request or the API
                self._requeue(batch)
                self._warn(exc)
                return
            self.written += len(batch)

    def _requeue(self, batch: list[tuple]) -> None:
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


def _column(entries: list[tuple], column: int) -> bytes:
    """One number column of a group's forecasts (lists), packed."""
    return packed(chain.from_iterable(map(itemgetter(column), entries)), NUMBERS)


def _shadow_columns(entries: list[tuple]) -> tuple[list[tuple], bytes, bytes, bytes]:
    """The challenger's forecasts of a group of shadow entries, computed in one call per horizon,
    and the entries in the order of their rows (grouped by horizon)."""
    model = entries[0][6]
    w = model.window_size
    by_horizon: dict[int, list[tuple]] = {}
    for entry in entries:
        by_horizon.setdefault(len(entry[4]), []).append(entry)
    ordered, points, lowers, uppers = [], [], [], []
    for horizon, group in by_horizon.items():
        windows = np.frombuffer(b"".join(entry[7] for entry in group), np.float64).reshape(len(group), w)
        point = model.forecast_windows(windows, horizon)
        lower, upper = model.bounds(point)
        ordered += group
        points.append(point.ravel())
        lowers.append(lower.ravel())
        uppers.append(upper.ravel())
    return ordered, *(np.concatenate(part).astype(NUMBERS).tobytes() for part in (points, lowers, uppers))


def _grouped(batch: list[tuple]) -> dict[tuple, dict[str, Any]]:
    """One document per model, version, role and series of the batch, its forecasts side by side:
    a thousand forecasts a second become a few documents, which the database (and the monitor
    reading them back) handle far more cheaply than a thousand. Shadow forecasts are computed
    here, for the whole group at once."""
    groups: dict[tuple, list[tuple]] = {}
    for entry in batch:
        group = groups.get(entry[0])
        if group is None:
            groups[entry[0]] = group = []
        group.append(entry)
    documents = {}
    for key, entries in groups.items():
        model, version, role, _ = key
        if entries[0][5] is None:
            entries, value, lower, upper = _shadow_columns(entries)
        else:
            value, lower, upper = _column(entries, 5), _column(entries, 6), _column(entries, 7)
        issued = np.fromiter(map(itemgetter(3), entries), np.float64, len(entries))
        targets = list(map(itemgetter(4), entries))
        documents[key] = {
            "model": model,
            "version": version,
            "role": role,
            "series": entries[0][1],
            "issued_at": datetime.fromtimestamp(entries[0][3], UTC),
            "first_target_ms": min(map(itemgetter(0), targets)),
            "count": len(entries),
            "request_id": list(map(itemgetter(2), entries)),
            "horizon": list(map(len, targets)),
            "issued_ms": (issued * 1000).astype(MILLISECONDS).tobytes(),
            "target_ms": packed(chain.from_iterable(targets), MILLISECONDS),
            "value": value,
            "lower": lower,
            "upper": upper,
        }
    return documents


_JOINED = ("request_id", "horizon", "issued_ms", "target_ms", "value", "lower", "upper")


def _merge(documents: dict[tuple, dict[str, Any]], more: dict[tuple, dict[str, Any]]) -> None:
    """The documents of two parts of a batch as one per group: lists and packed columns end to end."""
    for key, document in more.items():
        kept = documents.get(key)
        if kept is None:
            documents[key] = document
            continue
        kept["count"] += document["count"]
        kept["first_target_ms"] = min(kept["first_target_ms"], document["first_target_ms"])
        for name in _JOINED:
            kept[name] = kept[name] + document[name]
