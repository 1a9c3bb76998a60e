"""The prediction log's documents: one per model, version, role and series of a batch, its
forecasts side by side (the bucket pattern), made from the queue's entries and the lanes' columns.
A thousand forecasts a second become a few documents, which the database (and the monitor reading
them back) handle far more cheaply than a thousand."""

import struct
from array import array
from datetime import UTC, datetime
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np

from core.monitoring import MILLISECONDS, NUMBERS, SEQUENCE, STEPS, packed

CHAMPION, CHALLENGER = "champion", "challenger"
LANE = "lane"  # the last part of a lane's document keys: its request ids are stored unlike the queue's


class Lane:
    """The one-step forecasts of one served model on its own series with the API's own request
    ids, column by column, and its challenger's windows (one row each) for the shadow: a request
    appends numbers, and the writer makes documents of the columns' bytes with no Python step
    per forecast. The ids are the process's prefix and a sequence number."""

    __slots__ = (
        "served",
        "challenger",
        "prefix",
        "width",
        "issued",
        "target",
        "value",
        "lower",
        "upper",
        "ids",
        "windows",
        "_pack",
    )

    def __init__(self, served: Any, challenger: Any, prefix: str) -> None:
        self.served, self.challenger, self.prefix = served, challenger, prefix
        self.width = 0 if challenger is None else challenger.model.window_size
        self.issued, self.value, self.lower, self.upper = array("d"), array("d"), array("d"), array("d")
        self.target, self.ids = array("q"), array("q")
        self.windows = bytearray()  # packed by a struct made for the width: 4x faster than array.extend
        self._pack = struct.Struct(f"<{self.width}d").pack

    def __len__(self) -> int:
        return len(self.ids)

    def add(
        self, now: float, target: int, value: float, lower: float, upper: float, sequence: int, window: list[float]
    ) -> None:
        self.issued.append(now)
        self.target.append(target)
        self.value.append(value)
        self.lower.append(lower)
        self.upper.append(upper)
        self.ids.append(sequence)
        if self.width:
            self.windows += self._pack(*window[-self.width :])

    def drop_oldest(self, count: int) -> int:
        count = min(count, len(self))
        for column in (self.issued, self.target, self.value, self.lower, self.upper, self.ids):
            del column[:count]
        del self.windows[: count * self.width * 8]
        return count

    def extend(self, newer: "Lane") -> None:
        for name in ("issued", "target", "value", "lower", "upper", "ids", "windows"):
            getattr(self, name).extend(getattr(newer, name))

    def documents(self, start: int = 0, stop: int | None = None) -> dict[tuple, dict[str, Any]]:
        """The champion's document of rows start:stop and, with a challenger, the shadow's: its
        forecasts of all those windows in one vectorised call. Keyed by where the rows start, so a
        lane grown large during an outage becomes several documents, each far below BSON's 16 MB."""
        stop = len(self) if stop is None else min(stop, len(self))
        served, n, w = self.served, stop - start, self.width

        def column(name: str, dtype: str) -> np.ndarray:
            return np.frombuffer(getattr(self, name), dtype)[start:stop]

        targets = column("target", "=i8")
        shared = {
            "first_target_ms": int(targets.min()),
            "count": n,
            "request_prefix": self.prefix,
            "request_seq": column("ids", "=i8").astype(SEQUENCE).tobytes(),
            "horizon": np.ones(n, STEPS).tobytes(),
            "issued_at": datetime.fromtimestamp(self.issued[start], UTC),
            "issued_ms": (column("issued", "=f8") * 1000).astype(MILLISECONDS).tobytes(),
            "target_ms": targets.astype(MILLISECONDS).tobytes(),
        }
        numbers = (column(name, "=f8") for name in ("value", "lower", "upper"))
        documents = {
            (served.name, served.version, CHAMPION, None, LANE, start): _document(
                served.name, served.version, CHAMPION, served.series, shared, *map(_numbers, numbers)
            )
        }
        challenger = self.challenger
        if challenger is not None:
            # A copy (the slice), not a view: a view would stop the lane from growing again.
            windows = np.frombuffer(self.windows[start * w * 8 : stop * w * 8], "<f8").reshape(n, w)
            forecasts = _shadow_forecasts(challenger.model, windows, 1, targets / 1000.0)
            documents[(challenger.name, challenger.version, CHALLENGER, None, LANE, start)] = _document(
                challenger.name, challenger.version, CHALLENGER, challenger.series, shared, *map(_numbers, forecasts)
            )
        return documents


def _document(
    model: str, version: str, role: str, series: Any, columns: dict[str, Any], value: bytes, lower: bytes, upper: bytes
) -> dict[str, Any]:
    return {
        "model": model,
        "version": version,
        "role": role,
        "series": series,
        **columns,
        "value": value,
        "lower": lower,
        "upper": upper,
    }


def _shadow_forecasts(
    model: Any, windows: np.ndarray, horizon: int, targets: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The challenger's point forecasts of `windows` and their bounds, in one vectorised call
    (`targets`: epoch seconds of each window's forecasts, for a model reading the calendar)."""
    point = model.forecast_windows(windows, horizon, targets)
    return (point, *model.bounds(point))


def _numbers(column: Any) -> bytes:
    return np.asarray(column, np.float64).ravel().astype(NUMBERS).tobytes()


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
        targets = None
        if model.calendar is not None:
            targets = np.array([entry[4] for entry in group], np.float64) / 1000.0
        point, lower, upper = _shadow_forecasts(model, windows, horizon, targets)
        ordered += group
        points.append(point.ravel())
        lowers.append(lower.ravel())
        uppers.append(upper.ravel())
    return ordered, *(np.concatenate(part).astype(NUMBERS).tobytes() for part in (points, lowers, uppers))


def grouped(batch: list[tuple]) -> dict[tuple, dict[str, Any]]:
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
        columns = {
            "issued_at": datetime.fromtimestamp(entries[0][3], UTC),
            "first_target_ms": min(map(itemgetter(0), targets)),
            "count": len(entries),
            "request_id": list(map(itemgetter(2), entries)),
            "horizon": packed(map(len, targets), STEPS),
            "issued_ms": (issued * 1000).astype(MILLISECONDS).tobytes(),
            "target_ms": packed(chain.from_iterable(targets), MILLISECONDS),
        }
        documents[key] = _document(model, version, role, entries[0][1], columns, value, lower, upper)
    return documents


_JOINED = ("request_id", "request_seq", "horizon", "issued_ms", "target_ms", "value", "lower", "upper")


def merge(documents: dict[tuple, dict[str, Any]], more: dict[tuple, dict[str, Any]]) -> None:
    """The documents of two parts of a batch as one per group: lists and packed columns end to end."""
    for key, document in more.items():
        kept = documents.get(key)
        if kept is None:
            documents[key] = document
            continue
        kept["count"] += document["count"]
        kept["first_target_ms"] = min(kept["first_target_ms"], document["first_target_ms"])
        for name in _JOINED:
            if name in document:
                kept[name] = kept[name] + document[name]
