"""`mlts`: every operation a person runs by hand. Heavy libraries load inside the commands that
need them, so `mlts --help` and quick commands stay quick."""

import os
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


def _training_config(**fields: object):
    from pydantic import ValidationError

    from core.series import SeriesSpecError
    from pipelines.config import TrainingConfig

    try:
        return TrainingConfig(**fields)
    except (ValidationError, SeriesSpecError) as exc:
        _fail(_validation_text(exc))


def _validation_text(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in errors())
    return str(exc)


def _metric_table(outcomes: list[dict]) -> Table:
    table = Table("model", "version", "decision", "rmse", "champion rmse", "mae", "mase", "naive rmse", "epochs")
    for o in outcomes:
        m = o.get("metrics", {})
        fmt = lambda v: "" if v is None else f"{v:.4g}"  # noqa: E731
        if o.get("status") == "failed":
            table.add_row(o["model_name"], "", "[red]failed[/]", "", "", "", "", "", "")
            continue
        colour = {"promoted": "green", "challenger": "yellow"}.get(o["decision"], "red")
        table.add_row(
            o["model_name"], str(o["version"]), f"[{colour}]{o['decision']}[/]", fmt(m.get("rmse")),
            fmt(o.get("champion_rmse")), fmt(m.get("mae")), fmt(m.get("mase")), fmt(m.get("naive_rmse")),
            str(int(m.get("epochs_trained", 0))),
        )  # fmt: skip
    return table


def _where_to_look(settings: Settings) -> None:
    from core.registry import is_local_store

    uri = settings.tracking_uri
    if is_local_store(uri):
        console.print(f"MLflow UI: [bold]mlts ui[/]  (or: mlflow ui --backend-store-uri {uri})", highlight=False)
    else:
        console.print(f"MLflow UI: {settings.mlflow_ui_url or _masked(uri)}", highlight=False)
    prefect_api = os.environ.get("PREFECT_API_URL")
    if prefect_api:
        console.print(f"Prefect UI: {prefect_api.removesuffix('/api')}", highlight=False)


def _masked(url: str) -> str:
    from core.masking import mask_url

    return mask_url(url) or ""


@app.command()
def train(
    collection: Annotated[str, typer.Option(help="MongoDB collection holding the series.")],
    value_field: Annotated[str, typer.Option(help="Field with the numeric value.")] = "value",
    timestamp_field: Annotated[str, typer.Option(help="Field with the timestamp.")] = "timestamp",
    filter: Annotated[list[str] | None, typer.Option("--filter", help="key=value (or key:=json) selecting the series; repeat.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Train on the most recent N points only.")] = None,
    window_size: Annotated[int | None, typer.Option(help="Window length (default DEFAULT_WINDOW_SIZE).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs (default DEFAULT_EPOCHS).")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Fraction of the largest stable step, (0, 1].")] = None,
    patience: Annotated[int | None, typer.Option(help="Epochs without improvement before stopping.")] = None,
    holdout_fraction: Annotated[float | None, typer.Option(help="Share of the series held out.")] = None,
    value_min: Annotated[float | None, typer.Option(help="Validation fails below this value.")] = None,
    value_max: Annotated[float | None, typer.Option(help="Validation fails above this value.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run the `train_series` flow on one series: load, validate, fit, evaluate, log to MLflow,
    register, and promote if it beats the champion. Exit code 1 with the reason when it fails."""
    import json

    from core.series import SeriesSpecError, parse_filter_args

    settings = get_settings()
    project_run = os.environ.get("MLFLOW_RUN_ID")
    try:
        items = [part for item in filter or [] for part in item.split(",") if part.strip()]
        filters = parse_filter_args(items)
    except SeriesSpecError as exc:
        _fail(str(exc))
    config = _training_config(
        collection=collection, value_field=value_field, timestamp_field=timestamp_field, filter=filters, limit=limit,
        window_size=window_size, epochs=epochs, learning_rate=learning_rate, patience=patience,
        holdout_fraction=holdout_fraction, value_min=value_min, value_max=value_max,
    )  # fmt: skip
    _mongo_url(settings)
    from pipelines.flows import train_series

    state = train_series(**config.model_dump(exclude_none=True), source="cli", return_state=True)
    if not state.is_completed():
        error = state.result(raise_on_failure=False)
        _fail(f"training of {config.spec.model_name} failed: {error if isinstance(error, BaseException) else state.message}")
    outcome = state.result()
    _tag_project_run(project_run, outcome)
    if as_json:
        console.print_json(json.dumps(outcome))
        return
    console.print(_metric_table([outcome]))
    console.print(f"run {outcome['run_id']}: version {outcome['version']} {outcome['decision']} ({outcome['reason']})", highlight=False)
    _where_to_look(settings)


def _tag_project_run(project_run: str | None, outcome: dict) -> None:
    """Under `mlflow run` (MLFLOW_RUN_ID, read before MLflow's end_run clears it), point the
    project's run at the training run it started."""
    if not project_run or project_run == outcome.get("run_id"):
        return
    from core import registry

    client = registry.client(get_settings())
    client.set_tag(project_run, "mlts.training_run_id", outcome["run_id"])
    client.set_tag(project_run, "mlts.model", f"{outcome['model_name']} version {outcome['version']}")
    client.set_tag(project_run, "mlts.decision", outcome["decision"])
    for key in ("rmse", "mae", "mase"):
        if key in outcome.get("metrics", {}):
            client.log_metric(project_run, key, outcome["metrics"][key])


@app.command()
def retrain(
    config: Annotated[Path, typer.Option(help="YAML file listing the series.", exists=True, dir_okay=False)] = Path("series.yaml"),
    task_runner: Annotated[str, typer.Option(help="threads, or dask (DASK_SCHEDULER_ADDRESS or a LocalCluster).")] = "threads",
    max_workers: Annotated[int | None, typer.Option(min=1, help="Series trained at once (threads or local Dask workers).")] = None,
) -> None:
    """Run `retrain_all` once over every series of the config file; exit code 1 if any failed."""
    from pipelines.config import ConfigFileError, load_retrain_config

    if task_runner not in ("threads", "dask"):
        _fail("--task-runner must be threads or dask")
    try:
        load_retrain_config(config)
    except ConfigFileError as exc:
        _fail(str(exc))
    settings = get_settings()
    _mongo_url(settings)
    from pipelines.flows import retrain_all

    summary = retrain_all(config_path=str(config), task_runner=task_runner, max_workers=max_workers)
    console.print(_metric_table(summary["results"]))
    for name, error in summary["failed"].items():
        err.print(f"[red]{name}[/]: {error}", highlight=False)
    console.print(
        f"promoted {len(summary['promoted'])}, kept the champion for {len(summary['kept_champion'])}, "
        f"failed {len(summary['failed'])}"
    )
    _where_to_look(settings)
    if summary["failed"]:
        raise typer.Exit(1)


@app.command()
def promote(
    model: Annotated[str, typer.Argument(help="Registered model name (see `mlts models`).")],
    version: Annotated[str, typer.Argument(help="Version to give the champion alias.")],
) -> None:
    """Give a version the champion alias by hand, overriding the promotion rule (tagged as such)."""
    from mlflow.exceptions import MlflowException

    from core import registry
    from core.mongo import connect
    from ml.errors import ModelFormatError
    from pipelines import locks, promotion

    settings = get_settings()
    client = registry.client(settings)
    db = connect(_mongo_url(settings), settings.mongodb_timeout_ms)[settings.mongodb_database]
    try:
        with _mongo_errors(settings), locks.training_lock(db, model, settings.training_lock_ttl_seconds, "mlts promote"):
            decision = promotion.promote_by_hand(client, settings, model, version)
    except locks.TrainingInProgress as exc:
        _fail(str(exc))
    except MlflowException as exc:
        _fail(f"{model} version {version}: {exc.message}")
    except ModelFormatError as exc:
        _fail(f"{model} version {version} cannot be served: {exc}")
    previous = f" (was version {decision.champion_version})" if decision.champion_version else ""
    console.print(f"{model}: version {version} is now {settings.model_alias}{previous}")


@app.command()
def models() -> None:
    """List registered models with their champion and challenger versions."""
    from core import registry

    settings = get_settings()
    client = registry.client(settings)
    table = Table("model", "versions", settings.model_alias, settings.challenger_alias, "champion rmse", "promoted at")
    for model in registry.all_registered_models(client):
        aliases = model.aliases or {}
        champion = aliases.get(settings.model_alias)
        tags = client.get_model_version(model.name, str(champion)).tags if champion is not None else {}
        latest = max((int(v.version) for v in model.latest_versions or []), default=0)
        table.add_row(
            model.name, str(latest), str(champion or ""), str(aliases.get(settings.challenger_alias, "")),
            tags.get(registry.TAG_RMSE, ""), tags.get(registry.TAG_PROMOTED_AT, ""),
        )  # fmt: skip
    console.print(table)


@app.command()
def schedule(
    cron: Annotated[str, typer.Option(help='Cron expression, e.g. "0 3 * * *" (03:00 daily).')] = "0 3 * * *",
    config: Annotated[Path, typer.Option(help="YAML file listing the series.", exists=True, dir_okay=False)] = Path("series.yaml"),
    task_runner: Annotated[str, typer.Option(help="threads or dask.")] = "threads",
    timezone: Annotated[str, typer.Option(help="Time zone of the cron expression.")] = "UTC",
) -> None:
    """Serve `retrain_all` as a Prefect deployment on a cron schedule (runs until stopped).

    Against a Prefect server (PREFECT_API_URL) the deployment, its schedule and its runs show in
    the Prefect UI; without one, Prefect runs a local temporary server for as long as this runs."""
    from pipelines.config import ConfigFileError, load_retrain_config

    if task_runner not in ("threads", "dask"):
        _fail("--task-runner must be threads or dask")
    try:
        load_retrain_config(config)
        from pipelines.schedule import retraining_deployment, serve

        retraining_deployment(cron, config, task_runner, timezone)
    except ConfigFileError as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(f"invalid schedule {cron!r}: {exc}")
    console.print(f"serving retrain-all on {cron!r} ({timezone}) for the series in {config}; Ctrl-C to stop")
    serve(cron, config, task_runner, timezone)


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port of the MLflow UI.")] = 5000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Open the MLflow UI on the local store (runs of every series side by side)."""
    import shutil

    from core.registry import is_local_store

    settings = get_settings()
    uri = settings.tracking_uri
    prefect_api = os.environ.get("PREFECT_API_URL")
    if prefect_api:
        console.print(f"Prefect UI: {prefect_api.removesuffix('/api')}")
    if not is_local_store(uri):
        console.print(f"MLFLOW_TRACKING_URI points at a server; its UI is {settings.mlflow_ui_url or _masked(uri)}")
        return
    mlflow_bin = shutil.which("mlflow") or str(Path(sys.executable).parent / "mlflow")
    console.print(f"MLflow UI on http://{host}:{port}  (store {uri})")
    os.execv(mlflow_bin, [mlflow_bin, "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)])


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default PORT, 8000).")] = None,
    host: Annotated[str | None, typer.Option(help="Interface (default HOST, 0.0.0.0).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default WORKERS, 1).")] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
    background: Annotated[bool, typer.Option("--background", help="Start it detached (log in MLTS_HOME/api.log) and return.")] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the API started with --background.")] = False,
) -> None:
    """Run the REST API with uvicorn: it serves the champion of every registered model and
    follows the alias when it moves. Docs at /docs."""
    import uvicorn

    settings = get_settings()
    if stop:
        console.print("stopped the background API" if _stop_background_api(settings) else "no background API was running")
        return
    try:
        settings.check_for_serving()
    except ValueError as exc:
        _fail(str(exc))
    port, host, workers = port or settings.port, host or settings.host, workers or settings.workers
    if background:
        url = _start_background_api(settings, host, port, workers)
        console.print(f"mlts API running in the background at {url} (log: {settings.home / 'api.log'}); stop it with `mlts serve --stop`")
        return
    console.print(f"mlts API on http://{host}:{port}  (docs: /docs, {workers} worker{'s' if workers > 1 else ''})")
    uvicorn.run(
        "serving.app:create_app", factory=True, host=host, port=port, workers=workers,
        log_level=settings.log_level.lower(), access_log=access_log, proxy_headers=True, forwarded_allow_ips="*",
    )  # fmt: skip


def _api_state(settings: Settings) -> Path:
    return settings.home.resolve() / "api.json"


def _stop_background_api(settings: Settings) -> bool:
    import json
    import signal

    state = _api_state(settings)
    if not state.exists():
        return False
    info = json.loads(state.read_text())
    state.unlink()
    try:
        os.killpg(info["pid"], signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{info['pid']}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            break
        if state == "Z":  # exited, waiting to be reaped by the process that started it
            break
        time.sleep(0.1)
    return True


def _start_background_api(settings: Settings, host: str, port: int, workers: int) -> str:
    """`mlts serve` detached in its own session; waits until /health answers."""
    import json
    import socket
    import subprocess
    import time

    import httpx

    from core.embedded_mongo import free_port

    _stop_background_api(settings)
    probe = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    with socket.socket() as sock:
        if sock.connect_ex((probe, port)) == 0:
            console.print(f"port {port} is taken; using another")
            port = free_port()
    settings.home.mkdir(parents=True, exist_ok=True)
    log = (settings.home / "api.log").open("ab")
    command = [str(Path(sys.executable).parent / "mlts"), "serve", "--host", host, "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{probe}:{port}"
    _api_state(settings).write_text(json.dumps({"pid": process.pid, "url": url}))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _fail(f"the API exited at start; see {settings.home / 'api.log'}")
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200 and process.poll() is None:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return url


def _show_api(url: str, sample: dict) -> None:
    import json

    import httpx

    answer = httpx.post(f"{url}/predict", json=sample, timeout=30)
    console.print(f"\nPOST {url}/predict  ({len(sample['data'])} points of {sample['model']}) →", highlight=False)
    body = answer.json()
    console.print_json(json.dumps({k: body[k] for k in ("prediction", "predictions", "model") if k in body} or body))
    console.print(
        "\nTry it:\n"
        f"  open {url}/docs\n"
        f"  curl -s {url}/health\n"
        f"  curl -s {url}/model/info\n"
        f"  curl -s -X POST {url}/predict -H 'Content-Type: application/json' \\\n"
        f"       -d '{{\"collection_name\": \"sensor_readings\", \"filter\": {{\"additional_features.sensor_id\": \"temp_office\"}}, \"horizon\": 6}}'\n"
        f"  curl -s -X POST {url}/train -H 'Content-Type: application/json' \\\n"
        f"       -d '{{\"collection_name\": \"sensor_readings\", \"filter\": {{\"additional_features.sensor_id\": \"power_plant\"}}}}'\n"
        "Stop the API with `mlts serve --stop`.",
        highlight=False,
    )


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=10, help="Days of demo data.")] = 60,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve", help="End by starting the API in the background.")] = True,
) -> None:
    """Load the demo data into MongoDB (the embedded server unless MONGODB_URL is set), train every
    sensor through the `retrain_all` flow, register and promote the models, then start the API in
    the background, send it one prediction and print the commands to try."""
    from core import demo as demo_data
    from core.ingest import ingest_frame
    from core.mongo import connect

    settings = get_settings()
    url = _mongo_url(settings)
    console.print(f"MongoDB: {url if settings.mongo_url is None else _masked(url)}  database: {settings.mongodb_database}")
    db = connect(url, settings.mongodb_timeout_ms)[settings.mongodb_database]
    with _mongo_errors(settings):
        report = ingest_frame(db, demo_data.demo_frame(days), demo_data.COLLECTION, drop=True)
    console.print(f"seeded {report.written} readings into {demo_data.COLLECTION} ({len(demo_data.SENSORS)} sensors)")
    from pipelines.flows import retrain_all

    summary = retrain_all(series=[spec.to_dict() for spec in demo_data.demo_series()])
    console.print(_metric_table(summary["results"]))
    for name, error in summary["failed"].items():
        err.print(f"[red]{name}[/]: {error}", highlight=False)
    _where_to_look(settings)
    if summary["failed"]:
        raise typer.Exit(1)
    if serve_api:
        url = _start_background_api(settings, "127.0.0.1", settings.port, 1)
        console.print(f"\nmlts API running in the background at {url} (log: {settings.home / 'api.log'})")
        frame = demo_data.demo_frame(days)
        recent = frame[frame["sensor_id"] == "temp_office"].tail(48)
        sample = {
            "data": [{"timestamp": t, "value": float(v)} for t, v in zip(recent["timestamp"], recent["value"])],
            "horizon": 3, "model": demo_data.demo_series()[0].model_name,
        }  # fmt: skip
        _show_api(url, sample)
