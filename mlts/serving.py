"""Serving commands: `mlts serve` (the REST API) and `mlts ui` (the MLflow UI on the local store)."""

import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from core import stack
from core.masking import mask_url
from core.registry import is_local_store
from core.settings import get_settings
from mlts.console import console, reported
from serving import starting


def serve(
    port: Annotated[int | None, typer.Option(help="Port (default PORT, 8000).")] = None,
    host: Annotated[str | None, typer.Option(help="Interface (default HOST, 0.0.0.0).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default WORKERS, 1).")] = None,
    access_log: Annotated[
        bool | None, typer.Option("--access-log/--no-access-log", help="A line per request (default ACCESS_LOG, on).")
    ] = None,
    run_in_background: Annotated[
        bool, typer.Option("--background", help="Start it detached (log in MLTS_HOME/api.log) and return.")
    ] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the API started with --background.")] = False,
) -> None:
    """Run the REST API with uvicorn: it serves the champion of every registered model and
    follows the alias when it moves. Docs at /docs."""
    if access_log is not None:  # the app reads it, in every worker
        os.environ["ACCESS_LOG"] = str(access_log).lower()
        get_settings.cache_clear()
    settings = get_settings()
    if stop:
        stopped = stack.stop(settings, "api")
        console.print("stopped the background API" if stopped else "no background API was running")
        return
    with reported(settings):
        settings.check_for_serving()
    port, host, workers = port or settings.port, host or settings.host, workers or settings.workers
    if run_in_background:
        with reported(settings):
            service = stack.start(settings, "api", host=host, port=port, workers=workers)
        console.print(f"mlts API running in the background at {service.url} (log: {service.log})")
        console.print("stop it with `mlts serve --stop` (or `mlts down`)")
        return
    import uvicorn

    failed = settings.home / "serving" / f"failed-{port}"
    if workers > 1:
        _shared_metrics(settings.home / "serving" / f"metrics-{port}")
        failed.unlink(missing_ok=True)
        os.environ[starting.FAILURE_FILE] = str(failed)
    console.print(f"mlts API on http://{host}:{port}  (docs: /docs, {workers} worker{'s' if workers > 1 else ''})")
    try:
        uvicorn.run(
            "serving.main:app",
            factory=True,
            interface="asgi3",  # serving.starting's __call__ returns the app's coroutine
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level.lower(),
            access_log=False,  # the app writes its own, cheaper (serving/access_log.py)
            proxy_headers=True,
            forwarded_allow_ips="*",
        )
    finally:  # uvicorn re-raises the SIGTERM the failed start sent: say why instead
        _exit_if_failed(failed if workers > 1 else None)


def _exit_if_failed(worker_report: Path | None) -> None:
    """Exit 3 with the reason when the app could not be built, here or in a worker."""
    reason = None if starting.failure is None else repr(starting.failure)
    if worker_report is not None and worker_report.exists():
        reason = worker_report.read_text(encoding="utf-8")
        worker_report.unlink(missing_ok=True)
    if reason is not None:
        console.print(f"[red]the API could not start:[/red] {reason} (the log above has the details)")
        raise typer.Exit(3)


def _shared_metrics(folder: Path) -> None:
    """Prometheus multiprocess mode for the workers (they inherit the variable): each writes its
    figures under `folder`, emptied first so a previous run's counts are not added in, and
    /metrics sums them. A PROMETHEUS_MULTIPROC_DIR set by the user is theirs to manage."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def ui(
    port: Annotated[int, typer.Option(help="Port of the MLflow UI.")] = 5000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Open the MLflow UI on the local store (runs of every series side by side)."""
    settings = get_settings()
    uri = settings.tracking_uri
    prefect_api = os.environ.get("PREFECT_API_URL")
    if prefect_api:
        console.print(f"Prefect UI: {prefect_api.removesuffix('/api')}")
    if not is_local_store(uri):
        console.print(f"MLFLOW_TRACKING_URI points at a server; its UI is {settings.mlflow_ui_url or mask_url(uri)}")
        return
    mlflow_bin = shutil.which("mlflow") or str(Path(sys.executable).parent / "mlflow")
    console.print(f"MLflow UI on http://{host}:{port}  (store {uri})")
    os.execv(mlflow_bin, [mlflow_bin, "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)])
