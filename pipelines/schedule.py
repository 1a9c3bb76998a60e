"""Scheduled retraining: `retrain_all` as a Prefect deployment on a cron schedule.

`mlts schedule` registers the deployment and serves it (a long-running process, like
`flow.serve`): the schedule and every run it starts show in Prefect's UI and client.
"""

from pathlib import Path
from typing import Any

from pipelines.runners import TaskRunnerName

DEPLOYMENT_NAME = "scheduled-retraining"
MONITORING_NAME = "scheduled-monitoring"


def retraining_deployment(
    cron: str,
    config_path: str | Path,
    task_runner: TaskRunnerName = "threads",
    timezone: str = "UTC",
    name: str = DEPLOYMENT_NAME,
) -> Any:
    from prefect.schedules import Cron

    from pipelines.flows import retrain_all

    config = Path(config_path).resolve()
    return retrain_all.to_deployment(
        name=name,
        schedule=Cron(cron, timezone=timezone),
        parameters={"config_path": str(config), "task_runner": task_runner, "trigger": "schedule"},
        description=f"Retrain every series of {config} on the cron schedule {cron!r} ({timezone}).",
        tags=["mlts", "retraining"],
    )


def monitoring_deployment(cron: str, config_path: str | Path, timezone: str = "UTC") -> Any:
    from prefect.schedules import Cron

    from pipelines.monitoring import monitor_all

    config = Path(config_path).resolve()
    return monitor_all.to_deployment(
        name=MONITORING_NAME,
        schedule=Cron(cron, timezone=timezone),
        parameters={"config_path": str(config)},
        description=f"Measure live accuracy and drift of every series of {config} on {cron!r} ({timezone}).",
        tags=["mlts", "monitoring"],
    )


def serve(
    cron: str,
    config_path: str | Path,
    task_runner: TaskRunnerName = "threads",
    timezone: str = "UTC",
    monitor_cron: str | None = None,
) -> None:
    """Serve the retraining deployment, and the monitoring one when `monitor_cron` is given."""
    from prefect import serve as prefect_serve

    deployments = [retraining_deployment(cron, config_path, task_runner, timezone)]
    if monitor_cron:
        deployments.append(monitoring_deployment(monitor_cron, config_path, timezone))
    prefect_serve(*deployments)
