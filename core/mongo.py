"""Reading series out of MongoDB, with the sync client (flows, CLI) or the async one (the API).

Only the portable subset of MongoDB is used (see DESIGN.md), so the same calls run on a real
`mongod`, Atlas and the embedded nx-27017 server. Documents arrive in raw BSON batches decoded
in C, and become columns in one pandas call: no Python loop per document.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import bson
import numpy as np
from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database

from core.errors import NotFound
from core.series import SeriesSpec
from core.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

TIMESTAMP = "timestamp"
VALUE = "value"
TIMESTAMP_UTC = "timestamp_utc"
VALUE_FLOAT = "value_float"

_CODEC = CodecOptions(tz_aware=True)
_BATCH = 10_000


class SeriesNotFoundError(NotFound):
    """The collection does not exist, or no document in it matches the series' filter."""


def client_options(timeout_ms: int) -> dict[str, Any]:
    return {
        "tz_aware": True,
        "serverSelectionTimeoutMS": timeout_ms,
        "connectTimeoutMS": timeout_ms,
        "appname": "mlts",
    }


def connect(url: str, timeout_ms: int = 5000) -> MongoClient:
    return MongoClient(url, **client_options(timeout_ms))


def connect_async(url: str, timeout_ms: int = 5000) -> AsyncMongoClient:
    return AsyncMongoClient(url, **client_options(timeout_ms))


def _raw_batches(db: Database | AsyncDatabase, spec: SeriesSpec, limit: int | None) -> Any:
    """The series' cursor of raw BSON batches: only the two fields, sorted by time (newest first
    when only the most recent `limit` points are wanted). Same call for both clients."""
    projection = {"_id": 0, spec.timestamp_field: 1, spec.value_field: 1}
    return (
        db.get_collection(spec.collection, codec_options=_CODEC)
        .find_raw_batches(dict(spec.filter), projection, batch_size=_BATCH)
        .sort(spec.timestamp_field, -1 if limit else 1)
        .limit(limit or 0)
    )


def read_series(db: Database, spec: SeriesSpec, limit: int | None = None) -> "pd.DataFrame":
    """The series, oldest first, as raw and converted columns (see `frame_from_documents`).
    `limit` keeps only the most recent points."""
    documents = _decode(_raw_batches(db, spec, limit))
    if not documents:
        _raise_not_found(spec, db.list_collection_names(), db.name)
    return frame_from_documents(documents, spec, newest_first=bool(limit))


async def read_series_async(db: AsyncDatabase, spec: SeriesSpec, limit: int | None = None) -> "pd.DataFrame":
    documents = _decode([batch async for batch in _raw_batches(db, spec, limit)])
    if not documents:
        _raise_not_found(spec, await db.list_collection_names(), db.name)
    return frame_from_documents(documents, spec, newest_first=bool(limit))


def _decode(batches: Iterable[bytes]) -> list[dict]:
    documents: list[dict] = []
    for batch in batches:
        documents.extend(bson.decode_all(batch, _CODEC))
    return documents


def _raise_not_found(spec: SeriesSpec, collections: list[str], database: str) -> None:
    if spec.collection not in collections:
        known = ", ".join(sorted(c for c in collections if not c.startswith("system."))) or "none"
        raise SeriesNotFoundError(
            f"collection {spec.collection!r} does not exist in database {database!r} (collections: {known})"
        )
    where = f" matching {dict(spec.filter)}" if spec.filter else ""
    raise SeriesNotFoundError(f"collection {spec.collection!r} holds no documents{where}")


def frame_from_documents(documents: list[dict], spec: SeriesSpec, newest_first: bool = False) -> "pd.DataFrame":
    """Columns `timestamp` and `value` as stored, `timestamp_utc` and `value_float` converted
    (NaT/NaN where conversion failed), sorted by time. Unparseable timestamps sort last."""
    import pandas as pd  # here, not at import: the API starts without it

    from core.timestamps import to_float, to_utc

    fields = [spec.timestamp_field, spec.value_field]
    if any("." in f for f in fields):
        flat = pd.json_normalize(documents)
        raw = pd.DataFrame({name: flat[f] if f in flat else None for name, f in zip((TIMESTAMP, VALUE), fields)})
    else:
        raw = pd.DataFrame.from_records(documents, columns=fields)
        raw.columns = [TIMESTAMP, VALUE]
    if newest_first:
        raw = raw.iloc[::-1]
    raw = raw.astype(object).reset_index(drop=True)
    raw[TIMESTAMP_UTC] = to_utc(raw[TIMESTAMP])
    raw[VALUE_FLOAT] = to_float(raw[VALUE])
    return raw.sort_values(TIMESTAMP_UTC, kind="stable", na_position="last").reset_index(drop=True)


@dataclass(frozen=True)
class SeriesArrays:
    """A clean series: UTC timestamps (datetime64[ns]) and finite float64 values, oldest first."""

    timestamps: np.ndarray
    values: np.ndarray

    @property
    def step_seconds(self) -> float:
        """The median spacing between points: the series' sampling step."""
        if len(self.timestamps) < 2:
            return float("nan")
        return float(np.median(np.diff(self.timestamps).astype("timedelta64[ns]").astype(np.int64)) / 1e9)


def to_arrays(frame: "pd.DataFrame") -> SeriesArrays:
    """The converted columns of a validated frame as numpy arrays."""
    timestamps = frame[TIMESTAMP_UTC].dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
    return SeriesArrays(timestamps=timestamps, values=frame[VALUE_FLOAT].to_numpy(dtype=np.float64))


def read_series_between(db: Database, spec: SeriesSpec, start: datetime, end: datetime, limit: int) -> SeriesArrays:
    """The clean points of a series in [start, end] (the actual values a monitor matches), oldest
    first. Read as the newest `limit` points (one indexed, sorted, limited query on any server,
    and ten times faster than a date range on the embedded one), cut here; only when those do
    not reach back to `start` is the range asked of the server. A collection that stores its
    timestamps as text has only the newest points to give."""
    documents = _decode(_raw_batches(db, spec, limit))
    series = _clean(documents, spec)
    reaches = len(documents) < limit or (len(series.timestamps) and series.timestamps[0] <= _naive(start))
    if not reaches:
        where = {**dict(spec.filter), spec.timestamp_field: {"$gte": start, "$lte": end}}
        projection = {"_id": 0, spec.timestamp_field: 1, spec.value_field: 1}
        cursor = db.get_collection(spec.collection, codec_options=_CODEC).find_raw_batches(
            where, projection, batch_size=_BATCH
        )
        in_range = _decode(cursor)
        if in_range:
            series = _clean(in_range, spec, newest_first=False)
    keep = (series.timestamps >= _naive(start)) & (series.timestamps <= _naive(end))
    return SeriesArrays(series.timestamps[keep], series.values[keep])


def _clean(documents: list[dict[str, Any]], spec: SeriesSpec, newest_first: bool = True) -> SeriesArrays:
    if not documents:
        return SeriesArrays(np.array([], dtype="datetime64[ns]"), np.array([], dtype=np.float64))
    frame = frame_from_documents(documents, spec, newest_first=newest_first)
    return to_arrays(frame.dropna(subset=[TIMESTAMP_UTC, VALUE_FLOAT]))


def _naive(moment: datetime) -> np.datetime64:
    """A moment as numpy's naive UTC (a naive datetime is taken as UTC already)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(moment, "ns")


async def server_status_async(client: AsyncMongoClient, database: str) -> dict[str, Any]:
    """Round-trip time of a ping, the server's version ("unknown" when it does not say), and the
    database's collections."""
    started = time.perf_counter()
    await client.admin.command("ping")
    round_trip_ms = (time.perf_counter() - started) * 1000.0
    version = (await client.server_info()).get("version") or "unknown"
    names = await client[database].list_collection_names()
    collections = sorted(c for c in names if not c.startswith("system."))
    return {"server_version": version, "round_trip_ms": round_trip_ms, "database": database, "collections": collections}


def ensure_series_index(db: Database, spec: SeriesSpec) -> None:
    """Index the fields a series is read by: a collection of a thousand sensors is otherwise
    scanned whole for each one (one sensor among a hundred reads 5x faster on the embedded
    server). One index per field, which both servers use (nx-27017 ignores compound ones);
    creating an index that exists is a no-op."""
    for field_name in (*sorted(spec.filter), spec.timestamp_field):
        db[spec.collection].create_index(field_name)


def database_url(settings: Settings) -> str:
    """MONGODB_URL, or the embedded server under MLTS_HOME (started in the background if needed)."""
    if settings.mongo_url:
        return settings.mongo_url
    from core.embedded_mongo import ensure_local_server

    return ensure_local_server(settings.home)
