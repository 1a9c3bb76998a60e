"""The prediction log: every forecast the API answers with timestamps, kept in Mongo so the
monitoring flow can later join it with the actual values.

Off the request path: a request only appends to bounded in-memory buffers; a background task
inserts batches. The common request (its data, one step ahead) appends five numbers and its id
to its model's columns (a `log_documents.Lane`), which the writer turns into a document without a Python step
per forecast; other requests queue a tuple each. When Mongo is slow or away the buffers keep
about the newest PREDICTION_LOG_QUEUE forecasts and count what they drop; a request never waits
for the log.
"""

import asyncio
import logging
import time
import uuid
from array import array
from collections import deque
from itertools import count
from typing import Any

from pymongo import ASCENDING

from core.monitoring import request_id as make_request_id
from core.settings import Settings
from serving import observability
from serving.database import Database
from serving.log_documents import CHALLENGER, CHAMPION, Lane, grouped, merge

log = logging.getLogger(__name__)

BATCH = 1000  # queued forecasts per insert (lanes go whole): fewer, larger documents cost the database far less
CHUNK = 500  # forecasts grouped between two turns of the event loop, which this keeps under a millisecond
LANE_ROWS = 50_000  # forecasts per document from a lane: about 2.6 MB, far below BSON's 16 MB
INTERVAL_SECONDS = 0.5
# Single-field indexes: both servers use them (nx-27017 ignores compound ones).
INDEXED = ("model", "issued_at", "first_target_ms")


class PredictionLog:
    def __init__(self, settings: Settings, database: Database):
        self.enabled = settings.prediction_log
        self.collection = settings.prediction_log_collection
        self.capacity = settings.prediction_log_queue
        self.database = database
        self.queue: deque[tuple] = deque()
        self.lanes: dict[int, Lane] = {}  # by id() of the served model, which its lane holds
        self.retired: list[Lane] = []  # lanes whose challenger changed, not yet written
        self.in_lanes = 0
        self.written = 0
        self.dropped = 0
        self.request_prefix = uuid.uuid4().hex[:16]  # ids unique without a system call per request
        self._sequence = count()
        self._wake: asyncio.Event | None = None  # made in run(): an event belongs to its loop
        self._indexed = False
        self._last_warning = 0.0

    def add(
        self,
        served: Any,
        challenger: Any,
        series: dict[str, Any] | None,
        request_id: str | None,
        target_ms: list[int] | None,
        values: list[float],
        lower: list[float],
        upper: list[float],
        window: list[float],
    ) -> None:
        """Queue the champion's forecast (under the client's request id, else one made here) and,
        when there is a challenger whose window the points fill, the challenger's (a shadow:
        forecast by the writer for the whole batch in one vectorised call, so the request pays for
        a copy of its last window, not a forecast). O(1), no I/O. Forecasts without timestamps
        cannot be matched: skipped. A one-step forecast of the model's own series with no client
        id goes to the model's lane; any other is a queue entry: (group, series, request id,
        issued at, target ms, values, lower, upper), where a shadow's values are None, its lower
        the model and its upper the window as packed doubles."""
        if not (self.enabled and target_ms):
            return
        now = time.time()
        if request_id is None and series is None and len(target_ms) == 1:
            lane = self.lanes.get(id(served))
            if lane is None or lane.challenger is not challenger:
                lane = self._new_lane(served, challenger)
            if len(window) >= lane.width:
                if self.in_lanes + len(self.queue) >= self.capacity:
                    self._drop_oldest(lane)
                lane.add(now, target_ms[0], values[0], lower[0], upper[0], next(self._sequence), window)
                self.in_lanes += 1
                if self.in_lanes >= BATCH and self._wake is not None:
                    self._wake.set()
                return
        if request_id is None:
            request_id = make_request_id(self.request_prefix, next(self._sequence))
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
        """Room for one more forecast: when the buffers are full, the oldest go, counted."""
        if self.pending() >= self.capacity:
            self._drop_oldest()

    def _drop_oldest(self, lane: Lane | None = None) -> None:
        """The oldest forecasts of this lane (a hundredth of the capacity at once, so a full buffer
        does not move its columns on every request), else the oldest queued entry, else the
        oldest of the fullest lane."""
        if lane is None or not len(lane):
            if self.queue:
                self.queue.popleft()
                self._count_drop(1)
                return
            lane = max([*self.lanes.values(), *self.retired], key=len)
        dropped = lane.drop_oldest(max(1, self.capacity // 100))
        self.in_lanes -= dropped
        self._count_drop(dropped)

    def _new_lane(self, served: Any, challenger: Any) -> Lane:
        old = self.lanes.get(id(served))
        if old is not None and len(old):
            self.retired.append(old)
        self.lanes[id(served)] = lane = Lane(served, challenger, self.request_prefix)
        return lane

    def take_lanes(self) -> list[Lane]:
        """Every lane with forecasts in it, the buffers emptied."""
        taken = [lane for lane in (*self.retired, *self.lanes.values()) if len(lane)]
        self.lanes, self.retired, self.in_lanes = {}, [], 0
        return taken

    def pending(self) -> int:
        return len(self.queue) + self.in_lanes

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
            if self.pending():
                await asyncio.wait_for(self.flush(drain=True), timeout=2)
            raise

    async def flush(self, drain: bool = False) -> None:
        """Write one batch, then more only while full batches wait (or everything, to drain):
        the requests that arrive during an insert wait for the next tick instead of each
        becoming an insert of its own."""
        first = True
        while self.pending() and (first or drain or self.pending() >= BATCH):
            first = False
            batch = [self.queue.popleft() for _ in range(min(BATCH, len(self.queue)))]
            lanes = self.take_lanes()
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
                    merge(documents, grouped(batch[start : start + CHUNK]))
                for lane in lanes:
                    for start in range(0, len(lane), LANE_ROWS):
                        merge(documents, lane.documents(start, start + LANE_ROWS))
                await target.insert_many(list(documents.values()), ordered=False)
            except Exception as exc:  # noqa: BLE001 - the log never fails a request or the API
                self._requeue(batch, lanes)
                self._warn(exc)
                return
            self.written += len(batch) + sum(len(lane) * (1 + (lane.challenger is not None)) for lane in lanes)

    def _requeue(self, batch: list[tuple], lanes: list[Lane]) -> None:
        """What a failed insert took, back ahead of what came since, within the capacity."""
        self.queue.extendleft(reversed(batch))
        for lane in lanes:
            key, taken = id(lane.served), len(lane)
            current = self.lanes.get(key)
            if current is None:
                self.lanes[key] = lane
            elif current.challenger is lane.challenger:
                lane.extend(current)
                self.lanes[key] = lane
            else:
                self.retired.append(lane)
            self.in_lanes += taken
        while self.pending() > self.capacity:
            self._drop_oldest()

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
                self.pending(),
                self.dropped,
            )

    def describe(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "collection": self.collection,
            "queued": self.pending(),
            "written": self.written,
            "dropped": self.dropped,
        }
