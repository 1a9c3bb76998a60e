"""`mlts monitor`: how served forecasts turned out, drift, and what mlts did about it."""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from core.settings import get_settings
from mlts.console import console, reported


def monitor(
    config: Annotated[
        Path | None, typer.Option(help="YAML file listing the series (as for retrain).", exists=True, dir_okay=False)
    ] = None,
    series: Annotated[
        list[str] | None, typer.Option("--series", help="Registered model name (see `mlts models`); repeatable.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Join the logged forecasts with the actual values that have arrived, compute live accuracy,
    test for drift, and act: retrain on drift, promote a challenger that is better on live data,
    alert (ALERT_WEBHOOK_URL). With neither option: every model with logged forecasts."""
    settings = get_settings()
    with reported(settings):
        from pipelines.flows import send_queued_events, without_heartbeat
        from pipelines.monitoring import monitor_all
        from pipelines.reports import monitoring_rows

        with without_heartbeat():
            found = monitor_all(config_path=str(config) if config else None, models=series)
        send_queued_events()
    if as_json:
        console.print_json(json.dumps(found, default=str))
        return
    rows = monitoring_rows(found["models"])
    table = Table(*(rows[0].keys() if rows else ["model"]))
    for row in rows:
        table.add_row(*row.values())
    console.print(table if rows else "no model has logged forecasts yet: serve some with /predict first")
    failed = [r for r in found["models"] if r.get("status") == "failed"]
    if failed:
        raise typer.Exit(1)
