"""How the CLI talks: its two consoles, failures as one red line and an exit code (from the kind
of failure, see core.errors), and the tables several commands print."""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from core.errors import classify, mongo_unavailable
from core.masking import mask_url
from core.registry import is_local_store
from core.settings import Settings

console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def reported(settings: Settings) -> Iterator[None]:
    """Any failure inside as one line saying what to fix, credentials masked, and the exit code
    of its kind; MongoDB not answering is said the same way everywhere."""
    secrets = [settings.mongo_url, settings.api_key and settings.api_key.get_secret_value()]
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none as a traceback
        from pymongo.errors import ConnectionFailure  # here, so the CLI starts without pymongo

        if isinstance(exc, ConnectionFailure):
            where = mask_url(settings.mongo_url) if settings.mongo_url else "the embedded server"
            error = mongo_unavailable(where, exc, secrets, settings.mongodb_timeout_ms)
        else:
            error = classify(exc, secrets)
        fail(error.message, error.exit_code)


def number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def outcome_table(outcomes: list[dict[str, Any]]) -> Table:
    """One row per training: decision, holdout metrics beside the champion's and naive's."""
    table = Table("model", "version", "decision", "rmse", "champion rmse", "mae", "mase", "naive rmse", "epochs")
    for o in outcomes:
        if o.get("status") == "failed":
            table.add_row(o["model_name"], "", "[red]failed[/]", "", "", "", "", "", "")
            continue
        m = o.get("metrics", {})
        colour = {"promoted": "green", "challenger": "yellow"}.get(o["decision"], "red")
        table.add_row(
            o["model_name"],
            str(o["version"]),
            f"[{colour}]{o['decision']}[/]",
            number(m.get("rmse")),
            number(o.get("champion_rmse")),
            number(m.get("mae")),
            number(m.get("mase")),
            number(m.get("naive_rmse")),
            str(int(m.get("epochs_trained", 0))),
        )
    return table


def worse_than_naive(outcomes: list[dict[str, Any]], each_up_to: int = 5) -> None:
    """Warn of each model that forecast its holdout worse than repeating the last value: a first
    version is promoted whatever its score, so this is where a person sees it. A fleet gets one
    line with the count, not a line per series."""
    worse = [outcome for outcome in outcomes if _worse_than_naive(outcome.get("metrics") or {})]
    if len(worse) > each_up_to:
        names = ", ".join(outcome["model_name"] for outcome in worse[:each_up_to])
        err.print(
            f"[yellow]warning:[/] {len(worse)} of {len(outcomes)} models forecast their holdout worse than the "
            f"naive forecast ({names}, …): compare the rmse and naive rmse columns; tuning (`tune: true`) "
            "chooses each window by backtest",
            highlight=False,
        )
        return
    for outcome in worse:
        rmse, naive = outcome["metrics"]["rmse"], outcome["metrics"]["naive_rmse"]
        hint = (
            "the backtest found nothing better on the training part: the series may be too short or too noisy"
            if outcome.get("tuned")
            else "tuning (`mlts tune`, or `tune: true` in a retrain config) chooses the window by backtest"
        )
        err.print(
            f"[yellow]warning:[/] {outcome['model_name']} forecasts its holdout worse than the naive "
            f"forecast (RMSE {rmse:.4g} against {naive:.4g}); {hint}",
            highlight=False,
        )


def _worse_than_naive(metrics: dict[str, float]) -> bool:
    rmse, naive = metrics.get("rmse"), metrics.get("naive_rmse")
    return rmse is not None and bool(naive) and rmse > naive


def where_to_look(settings: Settings) -> None:
    """Where the runs can be seen: the MLflow UI (and Prefect's, when a server is configured)."""
    uri = settings.tracking_uri
    if is_local_store(uri):
        console.print(f"MLflow UI: [bold]mlts ui[/]  (or: mlflow ui --backend-store-uri {uri})", highlight=False)
    else:
        console.print(f"MLflow UI: {settings.mlflow_ui_url or mask_url(uri)}", highlight=False)
    prefect_api = os.environ.get("PREFECT_API_URL")
    if prefect_api:
        console.print(f"Prefect UI: {prefect_api.removesuffix('/api')}", highlight=False)
