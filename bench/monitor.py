"""Monitoring at fleet size: `monitor_all` over 100 series with 1 000 logged forecasts each
(the retrain benchmark's series and champions). `python -m bench.monitor`."""

import os
import time
from datetime import UTC, datetime

import numpy as np

from bench import retrain
from bench.common import database
from bench.report import Report, run_alone
from core import registry
from core.mongo import read_series
from core.monitoring import MILLISECONDS, NUMBERS, packed
from core.settings import get_settings
from core.training_config import TrainingConfig

FORECASTS = 1000


def _champions(count: int) -> list[str]:
    settings = get_settings()
    names = [p.name for p in registry.promoted_models(registry.client(settings), settings.model_alias)]
    return sorted(n for n in names if n.startswith("bench_many."))[:count]


def _log(db, name: str, config: TrainingConfig, version: str, per_document: int = 50) -> int:
    """The last FORECASTS points of the series, forecast one step ahead with a small error, logged
    as the API's writer logs them (documents of `per_document` forecasts, about what one flush
    holds for one model at a few hundred requests a second spread over a fleet)."""
    frame = read_series(db, config.spec, limit=FORECASTS)
    stamps = frame["timestamp_utc"].dt.tz_convert(None).to_numpy(dtype="datetime64[ms]").astype(np.int64).tolist()
    values = frame["value_float"].to_numpy()
    forecast = (values + np.random.default_rng(len(name)).normal(0, 0.5, len(values))).tolist()
    now = datetime.now(UTC)
    docs = []
    for begin in range(0, len(stamps), per_document):
        part = slice(begin, begin + per_document)
        targets, predicted = stamps[part], forecast[part]
        docs.append(
            {
                "model": name,
                "version": version,
                "role": "champion",
                "series": config.spec.to_dict(),
                "issued_at": now,
                "first_target_ms": targets[0],
                "count": len(targets),
                "request_id": [f"{name}-{begin + i}" for i in range(len(targets))],
                "issued_ms": packed([int(now.timestamp() * 1000)] * len(targets), MILLISECONDS),
                "horizon": [1] * len(targets),
                "target_ms": packed(targets, MILLISECONDS),
                "value": packed(predicted, NUMBERS),
                "lower": packed([v - 1.0 for v in predicted], NUMBERS),
                "upper": packed([v + 1.0 for v in predicted], NUMBERS),
            }
        )
    db[get_settings().prediction_log_collection].insert_many(docs, ordered=False)
    return len(stamps)


def run(report: Report) -> None:
    from pipelines.flows import retrain_all
    from pipelines.monitoring import monitor_all

    count = int(os.environ.get("BENCH_SERIES", "100"))
    configs = retrain.series_of(count)
    names = _champions(count)
    if len(names) < count:  # run alone: train the retrain benchmark's series first
        retrain_all(series=retrain.seed(count))
        names = _champions(count)
    db = database()
    db[get_settings().prediction_log_collection].drop()
    by_name = {c.spec.model_name: c for c in configs}
    client = registry.client(get_settings())
    logged = sum(
        _log(db, name, by_name[name], str(client.get_model_version_by_alias(name, "champion").version))
        for name in names
    )
    started = time.perf_counter()
    found = monitor_all(models=names)
    wall = time.perf_counter() - started
    failed = sum(1 for m in found["models"] if m.get("status") == "failed")
    drifted = sum(1 for m in found["models"] if (m.get("drift") or {}).get("detected"))
    report.target(
        f"monitor_all, {len(names)} series x {FORECASTS} logged forecasts", "< 30 s", f"{wall:.1f} s", wall < 30
    )
    report.table(
        "monitor",
        f"8. Monitoring {len(names)} series with {FORECASTS:,} logged forecasts each (monitor_all)",
        ["forecasts logged", "wall s", "per series s", "drift reported", "failed"],
        [[f"{logged:,}", f"{wall:.1f}", f"{wall / max(len(names), 1):.2f}", drifted, failed]],
        "Each series: read its forecasts and actuals, live figures per step, both drift tests, interval "
        "recalibration, version tags, a point in its monitoring run, the HTML report as an artifact.",
    )


if __name__ == "__main__":
    run_alone(run)
