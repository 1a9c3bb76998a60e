"""Stack commands: `mlts up`, `mlts status`, `mlts down`: the local services started in the
background under MLTS_HOME, and found by every later command with no variable to set."""

from typing import Annotated

import typer
from rich.table import Table

from core import stack
from core.masking import mask_url
from core.settings import get_settings
from mlts.console import console, reported

_WHAT = {
    "mongo": "MongoDB (embedded)",
    "mlflow": "MLflow tracking server and UI",
    "prefect": "Prefect server, UI and scheduler",
    "api": "mlts API (docs at /docs)",
}


def _table(services: list[stack.Service]) -> Table:
    table = Table("service", "what", "url", "pid", "answers")
    for service in services:
        answers = "[green]yes[/]" if service.answers else ("[red]no[/]" if service.pid else "not running")
        table.add_row(
            service.name,
            _WHAT[service.name],
            service.ui or mask_url(service.url) or "",
            str(service.pid or ""),
            answers,
        )
    return table


def up(
    api: Annotated[bool, typer.Option("--api/--no-api", help="Start the API as well.")] = True,
) -> None:
    """Start the local stack in the background: the embedded MongoDB (unless MONGODB_URL is set),
    an MLflow server on the local store, a Prefect server (its scheduler makes `mlts schedule`
    fire) and the API. Later commands use them by themselves; `mlts down` stops them."""
    settings = get_settings()
    wanted = [name for name in stack.SERVICES if name != "mongo" or settings.mongo_url is None]
    if settings.mlflow_tracking_uri is not None and stack.recorded(settings.home, "mlflow") is None:
        console.print(f"MLFLOW_TRACKING_URI is set ({mask_url(settings.tracking_uri)}): not starting an MLflow server")
        wanted.remove("mlflow")
    if not api:
        wanted.remove("api")
    started = []
    with reported(settings):
        for name in wanted:
            console.print(f"starting {_WHAT[name]} …", highlight=False)
            started.append(stack.start(settings, name))
            if name == "mlflow":  # the API and the flows started after it find it
                from core.bootstrap import bootstrap

                settings = bootstrap()
    console.print(_table(stack.status(settings)))
    console.print("Every mlts command now uses these. Stop them with `mlts down`.")


def status() -> None:
    """Each service of the local stack: its URL, its PID and whether it answers. Exit code 1
    when a recorded service does not answer."""
    services = stack.status(get_settings())
    console.print(_table(services))
    if any(service.pid and not service.answers for service in services):
        raise typer.Exit(1)


def down() -> None:
    """Stop the services of the local stack (by their recorded pid, nothing else)."""
    settings = get_settings()
    for name in reversed(stack.SERVICES):
        if stack.stop(settings, name):
            console.print(f"stopped {_WHAT[name]}")
