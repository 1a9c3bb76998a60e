"""Data commands: `mlts mongo` (the embedded MongoDB) and `mlts seed` (load CSV or demo data).

pandas-based loading is imported inside `seed` (about a second), so `mlts --help` stays quick."""

from pathlib import Path
from typing import Annotated

import typer

from core import embedded_mongo
from core.settings import get_settings
from mlts.console import console, fail, reported


def mongo(
    background: Annotated[bool, typer.Option("--background", help="Start it detached and return.")] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the background server.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Say whether the background server runs.")] = False,
) -> None:
    """Run the embedded MongoDB server (nx-27017) on loopback, its data under MLTS_HOME/mongo.

    Local commands start it in the background by themselves when MONGODB_URL is unset."""
    settings = get_settings()
    if stop:
        stopped = embedded_mongo.stop_local_server(settings.home)
        console.print("stopped the embedded MongoDB server" if stopped else "no embedded MongoDB server was running")
        return
    state = embedded_mongo.local_server(settings.home)
    if status:
        console.print(f"running at {state['url']} (pid {state['pid']})" if state else "not running")
        raise typer.Exit(0 if state else 1)
    if state is not None:
        console.print(f"already running: {state['url']} (pid {state['pid']}); stop it with `mlts mongo --stop`")
        return
    if background:
        url = embedded_mongo.ensure_local_server(settings.home)
        console.print(f"MongoDB (embedded) running in the background at {url}")
        console.print(f"export MONGODB_URL={url}")
        return
    with embedded_mongo.EmbeddedMongo(settings.home.resolve() / "mongo" / "data").start() as server:
        console.print(f"MongoDB (embedded) listening at {server.url}  (Ctrl-C to stop)")
        console.print(f"export MONGODB_URL={server.url}")
        try:
            server.child.process.wait()
        except KeyboardInterrupt:
            pass


def seed(
    csv: Annotated[Path | None, typer.Option(help="CSV file with a header row.", exists=True, dir_okay=False)] = None,
    collection: Annotated[str | None, typer.Option(help="Target collection.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load the bundled demo dataset.")] = False,
    timestamp_column: Annotated[str, typer.Option(help="Column holding the timestamps.")] = "timestamp",
    value_column: Annotated[
        list[str] | None, typer.Option(help="Numeric column(s) to store; repeat for wide data.")
    ] = None,
    flat: Annotated[
        bool, typer.Option("--flat", help="Keep other columns at the top level, not in additional_features.")
    ] = False,
    drop: Annotated[bool, typer.Option("--drop", help="Drop the collection first.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Documents per insert_many.")] = 5000,
) -> None:
    """Load a CSV (or the demo dataset) into a collection, creating an index on the timestamp.

    Rows whose timestamp or value cannot be stored are listed with their line numbers."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from core import demo as demo_data
    from core.ingest import FEATURES_FIELD, ingest_frame, read_csv
    from core.mongo import connect, database_url

    settings = get_settings()
    if demo == (csv is not None):
        fail("give either --csv FILE or --demo")
    if demo:
        frame, collection, drop, source = (
            demo_data.demo_frame(),
            collection or demo_data.COLLECTION,
            True,
            "demo dataset",
        )
    elif not collection:
        fail("--collection is required with --csv")
    else:
        frame, source = read_csv(csv), str(csv)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with reported(settings), Progress(*columns, console=console, transient=True) as progress:
        db = connect(database_url(settings), settings.mongodb_timeout_ms)[settings.mongodb_database]
        task = progress.add_task(f"writing {collection}", total=len(frame))
        report = ingest_frame(
            db,
            frame,
            collection,
            timestamp_column,
            value_column or ["value"],
            None if flat else FEATURES_FIELD,
            drop=drop,
            batch_size=batch_size,
            progress=lambda n: progress.advance(task, n),
        )
    rejected = report.rejected
    console.print(
        f"{source}: {report.rows} rows read, [green]{report.written} written[/] to "
        f"{settings.mongodb_database}.{collection}, [{'red' if rejected else 'green'}]{len(rejected)} rejected[/]"
    )
    for row in rejected[:20]:
        console.print(f"  line {row.line}: {row.reason}", highlight=False)
    if len(rejected) > 20:
        console.print(f"  … and {len(rejected) - 20} more")
