"""Served forecasts against what happened: the prediction log read back, joined with the actual
values that have since arrived, and the live figures and drift tests computed on the join.

Everything here is arrays: a model's trailing week of forecasts is flattened into columns once
and every figure is a numpy expression over them (ml/monitoring.py holds the statistics).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from pymongo.database import Database

from core.mongo import read_series_between
from core.monitoring import MILLISECONDS, NUMBERS, STEPS, unpacked
from core.series import SeriesSpec
from ml import monitoring as stats

REFERENCE_POINTS = 500  # actuals before the first logged forecast: the data-drift reference


@dataclass(frozen=True)
class Forecasts:
    """One row per forecast step: which version and role made it, for when, and what it said."""

    version: np.ndarray
    role: np.ndarray
    step: np.ndarray
    target_ms: np.ndarray
    issued_ms: np.ndarray
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    series: dict[str, Any] | None

    def __len__(self) -> int:
        return len(self.target_ms)

    @property
    def step_ms(self) -> float | None:
        """The series' step, from the spacing of the targets forecast (None with fewer than two)."""
        targets = np.unique(self.target_ms)
        if len(targets) < 2:
            return None
        return float(np.median(np.diff(targets)))


def load_forecasts(db: Database, collection: str, model: str, since: datetime) -> Forecasts:
    """A model's logged forecasts issued since `since`, one row per forecast step.

    A log document holds the forecasts of one model, version and role written together (the
    API's writer groups each batch so; one request is the case of one): per forecast its request
    id, issue time and horizon, and the steps of all of them flattened."""
    # By model alone, so the server walks that index (nx-27017 uses one index per query); the
    # window is cut here, per forecast. No projection: on nx it costs more than it saves.
    cut = since.timestamp() * 1000
    documents, issued = [], []
    for document in db[collection].find({"model": model}):
        times = _issued(document)
        if len(times) and times.max() >= cut:
            documents.append(document)
            issued.append(times)
    horizons = [
        unpacked(d["horizon"], STEPS).astype(np.int64) if d.get("horizon") else np.array([_length(d)], dtype=np.int64)
        for d in documents
    ]
    per_forecast = np.concatenate(horizons) if documents else np.empty(0, dtype=np.int64)
    lengths = np.array([h.sum() for h in horizons], dtype=np.int64)
    total = int(lengths.sum())
    starts = np.cumsum(per_forecast) - per_forecast

    def column(name: str, dtype: str = NUMBERS) -> np.ndarray:
        if not documents:
            return np.empty(0, dtype=dtype)
        return np.concatenate([unpacked(d[name], dtype) for d in documents])

    def per_document(values: list[Any]) -> np.ndarray:
        return np.repeat(np.array(values, dtype=object), lengths)

    issued_ms = np.repeat(np.concatenate(issued) if documents else np.empty(0, dtype=np.int64), per_forecast)
    keep = issued_ms >= cut
    latest = max(documents, key=lambda d: d["issued_at"], default=None)
    return Forecasts(
        version=per_document([str(d["version"]) for d in documents])[keep],
        role=per_document([d["role"] for d in documents])[keep],
        step=(np.arange(total) - np.repeat(starts, per_forecast) + 1)[keep],
        target_ms=column("target_ms", MILLISECONDS).astype(np.int64)[keep],
        issued_ms=issued_ms[keep],
        value=column("value")[keep],
        lower=column("lower")[keep],
        upper=column("upper")[keep],
        series=latest.get("series") if latest else None,
    )


def _issued(document: dict[str, Any]) -> np.ndarray:
    """Issue times of a log document's forecasts, in epoch ms (one per forecast)."""
    stored = document.get("issued_ms")
    if stored is None or len(stored) == 0:
        return np.array([int(_aware(document["issued_at"]).timestamp() * 1000)], dtype=np.int64)
    return unpacked(stored, MILLISECONDS).astype(np.int64)


def _length(document: dict[str, Any]) -> int:
    """Steps in a document written before horizons were recorded (one forecast)."""
    stored = document["target_ms"]
    return len(stored) // 8 if isinstance(stored, bytes) else len(stored)


@dataclass(frozen=True)
class Joined:
    """The forecasts, the actual each matched (NaN where none has arrived) and the actuals around them."""

    forecasts: Forecasts
    actual: np.ndarray
    matched: np.ndarray
    reference: np.ndarray
    recent: np.ndarray
    recent_ms: np.ndarray
    newest_actual_ms: int | None
    step_ms: float


def join(db: Database, spec: SeriesSpec, forecasts: Forecasts, step_ms: float) -> Joined:
    """Read the actuals from REFERENCE_POINTS steps before the first target to the last, and match
    each forecast to the actual within half a step of its target."""
    first, last = int(forecasts.target_ms.min()), int(forecasts.target_ms.max())
    start = _datetime(first - REFERENCE_POINTS * step_ms)
    end = _datetime(last + step_ms / 2)
    actuals = read_series_between(db, spec, start, end, limit=REFERENCE_POINTS + len(np.unique(forecasts.target_ms)))
    times_ms = actuals.timestamps.astype("datetime64[ms]").astype(np.int64)
    index, matched = stats.match_actuals(
        forecasts.target_ms.astype("datetime64[ms]").astype("datetime64[ns]"),
        actuals.timestamps,
        actuals.values,
        np.timedelta64(int(step_ms / 2), "ms"),
    )
    if len(actuals.values):
        actual = np.where(matched, actuals.values[np.clip(index, 0, len(actuals.values) - 1)], np.nan)
    else:  # nothing has arrived (yet): every forecast unmatched
        actual, matched = np.full(len(forecasts), np.nan), np.zeros(len(forecasts), dtype=bool)
    before = times_ms < first - step_ms / 2
    return Joined(
        forecasts=forecasts,
        actual=actual,
        matched=matched,
        reference=actuals.values[before],
        recent=actuals.values[~before],
        recent_ms=times_ms[~before],
        newest_actual_ms=int(times_ms[-1]) if len(times_ms) else None,
        step_ms=step_ms,
    )


def _datetime(milliseconds: float) -> datetime:
    return datetime.fromtimestamp(0, UTC) + timedelta(milliseconds=milliseconds)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(milliseconds: float) -> str:
    return _datetime(milliseconds).isoformat()


def select(joined: Joined, role: str, version: str, matched_only: bool = True) -> np.ndarray:
    f = joined.forecasts
    chosen = (f.role == role) & (f.version == version)
    return chosen & joined.matched if matched_only else chosen


def figures(joined: Joined, rows: np.ndarray) -> dict[str, Any]:
    """MAE, RMSE, MASE (scaled by the naive one-step error of the recent actuals), bias, interval
    coverage and the matched count, overall and per horizon step."""
    f = joined.forecasts
    recent = joined.recent
    scale = float(np.mean(np.abs(np.diff(recent)))) if len(recent) > 1 else None
    metrics = stats.live_metrics(f.value[rows], joined.actual[rows], f.lower[rows], f.upper[rows], f.step[rows], scale)
    return metrics.to_dict()


def one_step_errors(joined: Joined, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Actual minus forecast of the one-step forecasts among `rows`, in target order, one per
    target (the latest issued when a target was forecast more than once); and their targets."""
    f = joined.forecasts
    rows = rows & (f.step == 1)
    target, issued = f.target_ms[rows], f.issued_ms[rows]
    errors = joined.actual[rows] - f.value[rows]
    order = np.lexsort((issued, target))
    ordered = target[order]
    last = np.r_[ordered[1:] != ordered[:-1], True] if len(ordered) else np.array([], dtype=bool)
    pick = order[last]
    return errors[pick], target[pick]


def paired_errors(joined: Joined, champion: str, challenger: str) -> tuple[np.ndarray, np.ndarray]:
    """One-step errors of champion and challenger on the targets both forecast and that arrived."""
    a, at = one_step_errors(joined, select(joined, "champion", champion))
    b, bt = one_step_errors(joined, select(joined, "challenger", challenger))
    common, ia, ib = np.intersect1d(at, bt, assume_unique=True, return_indices=True)
    return a[ia], b[ib]


def silent_for(joined: Joined, now_ms: float) -> float:
    """How many steps of forecast targets are past due with no actual after the newest one."""
    due = joined.forecasts.target_ms[joined.forecasts.target_ms <= now_ms]
    if not len(due):
        return 0.0
    newest = joined.newest_actual_ms if joined.newest_actual_ms is not None else -np.inf
    return float(max(0.0, (due.max() - newest) / joined.step_ms))
