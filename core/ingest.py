"""Loading CSV files or DataFrames into a collection, in the document format of DESIGN.md.

A row that cannot be stored is reported with its line and the reason, never dropped silently:
the report is what `mlts seed` prints.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pymongo.database import Database

from core.series import check_collection_name, check_field_path
from core.timestamps import text_to_utc

FEATURES_FIELD = "additional_features"
DEFAULT_BATCH = 5_000

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


@dataclass
class IngestReport:
    collection: str
    rows: int = 0
    written: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)


def read_csv(path: str | Path) -> pd.DataFrame:
    """Every cell as the text it holds, so a bad cell can be quoted back as it was written."""
    return pd.read_csv(path, dtype=object, keep_default_na=False, skipinitialspace=True)


def documents_from_frame(
    frame: pd.DataFrame,
    timestamp_column: str = "timestamp",
    value_columns: Sequence[str] = ("value",),
    features_field: str | None = FEATURES_FIELD,
    first_line: int = 2,
) -> tuple[list[dict], list[RejectedRow]]:
    """Documents `{timestamp, <value columns>, additional_features: {<other columns>}}`
    (other columns at the top level when `features_field` is None), and the rejected rows.
    `first_line` is the file line of the frame's first row (2 below a CSV header)."""
    missing = [c for c in (timestamp_column, *value_columns) if c not in frame.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not found; the columns are {list(frame.columns)}")
    for name in (timestamp_column, *value_columns):
        check_field_path(name, "column name")
    lines = np.arange(first_line, first_line + len(frame))
    timestamps = text_to_utc(frame[timestamp_column])
    problems = pd.Series("", index=frame.index, dtype=object)
    bad_time = timestamps.isna()
    problems[bad_time] = (
        "timestamp "
        + frame.loc[bad_time, timestamp_column].astype(str).map(repr)
        + (" is not a date (ISO-8601 or epoch milliseconds)")
    )
    values = {}
    for column in value_columns:
        raw = frame[column]
        numbers = raw.astype(np.float64) if pd.api.types.is_numeric_dtype(raw) else pd.to_numeric(raw, errors="coerce")
        bad = ~np.isfinite(numbers.to_numpy(dtype=np.float64))
        reason = f"{column} " + raw[bad].astype(str).map(repr) + " is not a finite number"
        problems[bad] = problems[bad].where(problems[bad] == "", problems[bad] + "; ") + reason
        values[column] = numbers.astype(np.float64)
    rejected_mask = problems != ""
    rejected = [
        RejectedRow(int(line), reason) for line, reason in zip(lines[rejected_mask.to_numpy()], problems[rejected_mask])
    ]
    keep = ~rejected_mask
    columns = {timestamp_column: timestamps[keep].dt.to_pydatetime()}
    for column in value_columns:
        columns[column] = values[column][keep].to_numpy()
    documents = pd.DataFrame(columns).to_dict("records")
    others = [c for c in frame.columns if c not in (timestamp_column, *value_columns)]
    if others:
        extras = frame.loc[keep, others].to_dict("records")
        if features_field:
            for document, extra in zip(documents, extras):
                document[features_field] = extra
        else:
            for document, extra in zip(documents, extras):
                document.update(extra)
    return documents, rejected


def write_documents(
    db: Database,
    collection: str,
    documents: list[dict],
    timestamp_field: str = "timestamp",
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressCallback | None = None,
) -> int:
    """Insert in unordered batches, then index the timestamp field (and the sensor id, for
    documents of many sensors): building an index once over loaded documents is cheaper than
    keeping it up to date insert by insert (a fifth of a seed's time on the embedded server)."""
    target = db[check_collection_name(collection)]
    written = 0
    for start in range(0, len(documents), batch_size):
        batch = documents[start : start + batch_size]
        written += len(target.insert_many(batch, ordered=False).inserted_ids)
        if progress is not None:
            progress(len(batch))
    target.create_index(timestamp_field)
    if documents and "sensor_id" in (documents[0].get(FEATURES_FIELD) or {}):
        target.create_index(f"{FEATURES_FIELD}.sensor_id")
    return written


def ingest_frame(
    db: Database,
    frame: pd.DataFrame,
    collection: str,
    timestamp_column: str = "timestamp",
    value_columns: Sequence[str] = ("value",),
    features_field: str | None = FEATURES_FIELD,
    drop: bool = False,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressCallback | None = None,
    first_line: int = 2,
) -> IngestReport:
    check_collection_name(collection)
    documents, rejected = documents_from_frame(frame, timestamp_column, value_columns, features_field, first_line)
    if drop:
        db.drop_collection(collection)
    written = write_documents(db, collection, documents, timestamp_column, batch_size, progress)
    return IngestReport(collection=collection, rows=len(frame), written=written, rejected=rejected)
