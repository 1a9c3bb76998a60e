"""Where `retrain_all` runs its series: a thread pool here, or a Dask cluster (prefect-dask)."""

import os
from typing import Any, Literal

TaskRunnerName = Literal["threads", "dask"]


def task_runner(name: TaskRunnerName, max_workers: int | None = None, dask_address: str | None = None) -> Any:
    """`threads`: this process, `max_workers` series at a time. `dask`: the cluster at
    `dask_address` (DASK_SCHEDULER_ADDRESS), or a LocalCluster of `max_workers` processes."""
    if name == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=max_workers or min(8, (os.cpu_count() or 1) + 2))
    if name == "dask":
        from prefect_dask import DaskTaskRunner

        address = dask_address or os.environ.get("DASK_SCHEDULER_ADDRESS")
        if address:
            return DaskTaskRunner(address=address)
        workers = max_workers or max(2, os.cpu_count() or 1)
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
        )
    raise ValueError(f"task runner must be 'threads' or 'dask', got {name!r}")
