"""`mlts`: every operation a person runs by hand. Heavy libraries load inside the commands that
need them, so `mlts --help` and quick commands stay quick."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.settings import Settings, get_settings

app = typer.Typer(
    name="mlts",
    help="Time-series forecasting from MongoDB: seed data, train, promote, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


@app.callback()
def _configure() -> None:
    get_settings().configure_environment()


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _mongo_url(settings: Settings) -> str:
    from core.mongo import database_url

    try:
        return database_url(settings)
    except RuntimeError as exc:
        _fail(str(exc))


@contextmanager
def _mongo_errors(settings: Settings) -> Iterator[None]:
    """Mongo failures as one line that says where and what, with credentials masked."""
    from pymongo.errors import ConnectionFailure, PyMongoError

    from core.masking import mask_text, mask_url
    from core.mongo import SeriesNotFoundError

    where = mask_url(settings.mongo_url) if settings.mongo_url else "the embedded server"
    try:
        yield
    except ConnectionFailure as exc:
        detail = mask_text(str(exc).split(", Timeout:")[0], [])
        _fail(f"cannot reach MongoDB at {where} within {settings.mongodb_timeout_ms} ms ({detail}); is it running?")
    except SeriesNotFoundError as exc:
        _fail(str(exc))
    except PyMongoError as exc:
        _fail(f"MongoDB at {where} refused the operation: {mask_text(str(exc), [])}")


@app.command()
def mongo(
    background: Annotated[bool, typer.Option("--background", help="Start it detached and return.")] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the background server.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Say whether the background server runs.")] = False,
) -> None:
    """Run the embedded MongoDB server (nx-27017) on loopback, its data under MLTS_HOME/mongo.

    Local commands start it in the background by themselves when MONGODB_URL is unset."""
    from core import embedded_mongo

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
    server = embedded_mongo.EmbeddedMongo(settings.home.resolve() / "mongo" / "data").start()
    console.print(f"MongoDB (embedded) listening at {server.url}  (Ctrl-C to stop)")
    console.print(f"export MONGODB_URL={server.url}")
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@app.command()
def seed(
    csv: Annotated[Path | None, typer.Option(help="CSV file with a header row.", exists=True, dir_okay=False)] = None,
    collection: Annotated[str | None, typer.Option(help="Target collection.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load the bundled demo dataset.")] = False,
    timestamp_column: Annotated[str, typer.Option(help="Column holding the timestamps.")] = "timestamp",
    value_column: Annotated[list[str] | None, typer.Option(help="Numeric column(s) to store; repeat for wide data.")] = None,
    flat: Annotated[bool, typer.Option("--flat", help="Keep other columns at the top level, not in additional_features.")] = False,
    drop: Annotated[bool, typer.Option("--drop", help="Drop the collection first.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Documents per insert_many.")] = 5000,
) -> None:
    """Load a CSV (or the demo dataset) into a collection, creating an index on the timestamp.

    Rows whose timestamp or value cannot be stored are listed with their line numbers."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from core import demo as demo_data
    from core.ingest import FEATURES_FIELD, documents_from_frame, read_csv, write_documents
    from core.mongo import connect
    from core.series import SeriesSpecError, check_collection_name

    settings = get_settings()
    if demo == (csv is not None):
        _fail("give either --csv FILE or --demo")
    if demo:
        frame, collection, drop = demo_data.demo_frame(), collection or demo_data.COLLECTION, True
        source = "demo dataset"
    else:
        if not collection:
            _fail("--collection is required with --csv")
        frame, source = read_csv(csv), str(csv)
    try:
        check_collection_name(collection)
        documents, rejected = documents_from_frame(
            frame, timestamp_column, value_column or ["value"], None if flat else FEATURES_FIELD
        )
    except (ValueError, SeriesSpecError) as exc:
        _fail(str(exc))
    client = connect(_mongo_url(settings), settings.mongodb_timeout_ms)
    db = client[settings.mongodb_database]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with _mongo_errors(settings), Progress(*columns, console=console, transient=True) as progress:
        if drop:
            db.drop_collection(collection)
        task = progress.add_task(f"writing {collection}", total=len(documents))
        written = write_documents(
            db, collection, documents, timestamp_column, batch_size, lambda n: progress.advance(task, n)
        )
    console.print(
        f"{source}: {len(frame)} rows read, [green]{written} written[/] to "
        f"{settings.mongodb_database}.{collection}, [{'red' if rejected else 'green'}]{len(rejected)} rejected[/]"
    )
    for row in rejected[:20]:
        console.print(f"  line {row.line}: {row.reason}", highlight=False)
    if len(rejected) > 20:
        console.print(f"  … and {len(rejected) - 20} more")


@app.command("config")
def show_config() -> None:
    """Show the settings in effect (passwords masked)."""
    table = Table("setting", "value", box=None)
    for name, value in get_settings().describe().items():
        table.add_row(name, str(value))
    console.print(table)


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=10, help="Days of demo data.")] = 60,
) -> None:
    """Load the demo data into the embedded MongoDB, train each sensor's forecaster and print its
    holdout metrics beside the naive baselines."""
    from core import demo as demo_data
    from core.ingest import ingest_frame
    from core.mongo import connect, read_series, to_arrays
    from ml import Hyperparameters, PerceptronForecaster, evaluate
    from ml.baselines import infer_season_length
    from ml.windows import holdout_size

    settings = get_settings()
    url = _mongo_url(settings)
    console.print(f"MongoDB: {url if settings.mongo_url is None else 'MONGODB_URL'}  database: {settings.mongodb_database}")
    db = connect(url, settings.mongodb_timeout_ms)[settings.mongodb_database]
    with _mongo_errors(settings):
        report = ingest_frame(db, demo_data.demo_frame(days), demo_data.COLLECTION, drop=True)
    console.print(f"seeded {report.written} readings into {demo_data.COLLECTION} ({len(demo_data.SENSORS)} sensors)")
    table = Table("series", "points", "epochs", "mae", "mse", "rmse", "mase", "naive rmse", "seasonal naive rmse")
    for spec in demo_data.demo_series():
        with _mongo_errors(settings):
            series = to_arrays(read_series(db, spec))
        window = settings.default_window_size
        start = len(series.values) - holdout_size(len(series.values), window, settings.holdout_fraction, settings.max_holdout)
        model = PerceptronForecaster(Hyperparameters(window_size=window, epochs=settings.default_epochs))
        model.fit(series.values[:start])
        m = evaluate(model, series.values, start, infer_season_length(series.step_seconds))
        table.add_row(
            spec.model_name, str(len(series.values)), str(model.epochs_trained),
            *(f"{m[k]:.3f}" for k in ("mae", "mse", "rmse", "mase", "naive_rmse")),
            f"{m.get('seasonal_naive_rmse', float('nan')):.3f}",
        )  # fmt: skip
    console.print(table)
