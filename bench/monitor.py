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
from core.settings import get_settings
from core.training_config import TrainingConfig

FORECASTS = 1000


def _champions(count: int) -> list[str]:
    settings = get_settings()
    names = [p.name for p in registry.promoted_models(registry.client(settings), settings.model_alias)]
    return sorted(n for n in names if n.startswith("bench_many."))[:count]


def _log(db, name: str, config: TrainingConfig, version: str) -> int:
    """The last FORECASTS points of the series, forecast one step ahead with a small error, as the
    API would have logged them."""
    frame = read_series(db, config.spec, limit=FORECASTS)
    stamps = frame["timestamp_utc"].dt.tz_convert(None).to_numpy(dtype="datetime64[ms]").astype(np.int64)
    values = frame["value_float"].to_numpy()
    noise = np.random.default_rng(len(name)).normal(0, 0.5, len(values))
    now = datetime.now(UTC)
    docs = [
        {
            "model": name,
            "version": version,
            "role": "champion",
            "series": config.spec.to_dict(),
            "request_id": f"{name}-{i}",
            "issued_at": now,
            "first_target_ms": int(t),
            "target_ms": [int(t)],
            "value": [float(v + e)],
            "lower": [float(v + e - 1.0)],
            "upper": [float(v + e + 1.0)],
        }
        for i, (t, v, e) in enumerate(zip(stamps, values, noise))
    ]
    db[get_settings().prediction_log_collection].insert_many(docs, ordered=False)
    return len(docs)


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
