"""Where `retrain_all` runs its batches: a thread pool here, or a Dask cluster (prefect-dask)."""

import logging
import os
from typing import Any, Literal

TaskRunnerName = Literal["threads", "dask"]


def task_runner(
    name: TaskRunnerName, max_workers: int | None = None, dask_address: str | None = None
) -> tuple[Any, int]:
    """The runner and how many batches it runs at once. `threads`: this process. `dask`: the
    cluster at `dask_address` (DASK_SCHEDULER_ADDRESS), or a LocalCluster of `max_workers`
    processes, which report to this process's Prefect API instead of starting their own."""
    if name == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        workers = max_workers or min(8, (os.cpu_count() or 1) + 2)
        return ThreadPoolTaskRunner(max_workers=workers), workers
    if name == "dask":
        from prefect_dask import DaskTaskRunner

        address = dask_address or os.environ.get("DASK_SCHEDULER_ADDRESS")
        if address:
            return DaskTaskRunner(address=address), max_workers or (os.cpu_count() or 1)
        workers = max_workers or max(2, os.cpu_count() or 1)
        # Its scheduler logs, at INFO with a traceback, the closed comm a worker leaves when the
        # cluster stops after the last result (dask/distributed#7192): noise, not a failure.
        logging.getLogger("distributed.batched").setLevel(logging.WARNING)
        cluster = {
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
            "env": {"PREFECT_API_URL": prefect_api_url()},
        }
        return DaskTaskRunner(cluster_kwargs=cluster), workers
    raise ValueError(f"task runner must be 'threads' or 'dask', got {name!r}")


def prefect_api_url() -> str:
    """The Prefect API this process reports to: the configured one, or its temporary server
    (started now if it is not yet), so that worker processes share it rather than each starting
    their own."""
    from prefect.settings import PREFECT_API_URL

    configured = PREFECT_API_URL.value()
    if configured:
        return configured
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    return server.api_url
