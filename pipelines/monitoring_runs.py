"""The monitoring runs in MLflow: one run per served version in its series' experiment, whose
metric history is the version's live figures over time (the MLflow UI plots live error), and the
live figures as tags on the version (`mlts.live_rmse`, ...)."""

import math
from datetime import datetime
from typing import Any

from core import registry
from core.registry import Tag
from core.settings import Settings


def record(client: Any, settings: Settings, model: str, roles: dict, drift: dict, now: datetime) -> dict[str, str]:
    """Tags on each measured version and a point in its monitoring run's metric history; returns
    the monitoring run of each version measured."""
    from mlflow.entities import Metric

    stamp = int(now.timestamp() * 1000)
    runs: dict[str, str] = {}
    tags = registry.writer(client)
    for role, figures in roles.items():
        if not figures.get("n"):
            continue
        version = figures["version"]
        for key in ("rmse", "mae", "coverage", "bias", "n"):
            if figures.get(key) is not None:
                tags.set_model_version_tag(model, version, f"mlts.live_{key}", str(figures[key]))
        run_id = run_for(client, settings, model, version)
        metrics = {f"live_{k}": figures.get(k) for k in ("rmse", "mae", "mase", "coverage", "bias", "n")}
        metrics["drift_detected"] = 1.0 if drift["detected"] else 0.0
        step = int(now.timestamp())
        batch = [Metric(k, float(v), stamp, step) for k, v in metrics.items() if v is not None and math.isfinite(v)]
        client.log_batch(run_id, metrics=batch)
        runs[version] = run_id
    return runs


def run_for(client: Any, settings: Settings, model: str, version: str) -> str:
    experiment = registry.experiment_id(client, model, settings)
    found = client.search_runs(
        [experiment], f"tags.`mlts.monitoring_of` = '{version}'", max_results=1, order_by=["attributes.start_time DESC"]
    )
    if found:
        return found[0].info.run_id
    run = client.create_run(
        experiment,
        run_name=f"monitor {model} v{version}",
        tags={Tag.SERIES: model, "mlts.monitoring_of": version, "mlts.kind": "monitoring"},
    )
    client.set_terminated(run.info.run_id)  # finished, not "running" forever in the UI; points still append
    return run.info.run_id
