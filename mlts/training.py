"""Training commands: `mlts train`, `retrain`, `promote`, `models`, `schedule`.

The training stack (Prefect, MLflow, Great Expectations: seconds to import) is imported inside
the commands that run it, so `mlts --help` and `mlts models` stay quick."""

import functools
import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core import registry, stack
from core.errors import EXIT_CODE, HTTP_STATUS, ErrorKind
from core.registry import Tag
from core.series import parse_filter_args
from core.settings import Settings, get_settings
from core.training_config import TrainingConfig, load_retrain_config
from mlts.console import console, err, fail, outcome_table, reported, where_to_look, worse_than_naive

ConfigFile = Annotated[Path, typer.Option(help="YAML file listing the series.", exists=True, dir_okay=False)]
TaskRunner = Annotated[str, typer.Option(help="threads, or dask (DASK_SCHEDULER_ADDRESS or a LocalCluster).")]
_FILTER_HELP = "key=value (or key:=json) selecting the series; repeat for several keys."
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
LocalOption = Annotated[
    bool, typer.Option("--local", help="Train in this process even when the stack's API could (see `mlts up`).")
]


def training_options(command: Callable[..., None]) -> Callable[..., None]:
    """One `--option` per field of TrainingConfig, added to `command`'s own, which receives the
    parsed config as `config`: a field added to the request type is a CLI option at once."""
    fields = TrainingConfig.model_fields
    added = []
    for name, field in fields.items():
        if name == "filter":
            annotation: Any = Annotated[list[str] | None, typer.Option("--filter", help=_FILTER_HELP)]
            default: Any = None
        else:
            annotation = Annotated[field.annotation, typer.Option(help=field.description)]
            default = inspect.Parameter.empty if field.is_required() else field.default
        added.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
    own = [p for p in inspect.signature(command).parameters.values() if p.name != "config"]

    @functools.wraps(command)
    def wrapper(**options: Any) -> None:
        values = {name: options.pop(name) for name in fields}
        items = [part for item in values["filter"] or [] for part in item.split(",") if part.strip()]
        with reported(get_settings()):
            values["filter"] = parse_filter_args(items)
            config = TrainingConfig.parse({k: v for k, v in values.items() if v is not None})
        command(config=config, **options)

    parameters = [*own, *added]
    wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper


@training_options
def train(
    config: TrainingConfig,
    as_json: JsonOption = False,
    local: LocalOption = False,
) -> None:
    """Run the `train_series` flow on one series: load, validate, fit, evaluate, log to MLflow,
    register, and promote if it beats the champion. With the local stack up (`mlts up`) the run
    goes to its API, whose libraries are already loaded. Exit code 1 with the reason when it fails."""
    settings = get_settings()
    project_run = os.environ.get("MLFLOW_RUN_ID")  # read before MLflow's end_run clears it
    api = None if local or project_run else _stack_api(settings)
    with reported(settings):
        outcome = _train_through(api, config, settings) if api else _train_here(config, settings)
        _tag_project_run(project_run, outcome)
    if as_json:
        console.print_json(json.dumps(outcome))
        return
    console.print(outcome_table([outcome]))
    console.print(
        f"run {outcome['run_id']}: version {outcome['version']} {outcome['decision']} ({outcome['reason']})",
        highlight=False,
    )
    worse_than_naive([outcome])
    where_to_look(settings)


@training_options
def tune(
    config: TrainingConfig,
    as_json: JsonOption = False,
    local: LocalOption = False,
) -> None:
    """`mlts train --tune`: search window, differencing, seasonal lags and calendar inputs by
    rolling-origin backtest on the training part (one MLflow child run per candidate), fit the
    choice, score it on the holdout it never saw, register it and put it through the champion gate."""
    train.__wrapped__(config=config.model_copy(update={"tune": True}), as_json=as_json, local=local)


def _train_here(config: TrainingConfig, settings: Settings) -> dict[str, Any]:
    from core.mongo import database_url
    from pipelines.flows import send_queued_events, train_series, without_heartbeat

    database_url(settings)
    with without_heartbeat():
        state = train_series(config, trigger="manual", return_state=True)
    send_queued_events()
    if not state.is_completed():
        error = state.result(raise_on_failure=False)
        reason = error if isinstance(error, BaseException) else state.message
        fail(f"training of {config.spec.model_name} failed: {reason}")
    return state.result()


def _stack_api(settings: Settings) -> str | None:
    """The stack's API, when it runs on the same data and registry as this command."""
    state = stack.recorded(settings.home, "api")
    return state["url"] if state and state.get("serves") == stack.fingerprint(settings) else None


def _train_through(api: str, config: TrainingConfig, settings: Settings) -> dict[str, Any]:
    """POST /train to the stack's API (a warm process: no imports, no Prefect server to start)."""
    import httpx

    headers = {"X-API-Key": settings.api_key.get_secret_value()} if settings.api_key else {}
    console.print(f"training through the API at {api} (`--local` trains here)", highlight=False)
    answer = httpx.post(
        f"{api}/train",
        params={"trigger": "manual"},
        content=config.model_dump_json(exclude_none=True),
        headers={"Content-Type": "application/json", **headers},
        timeout=httpx.Timeout(10.0, read=None),
    )
    if answer.status_code != 200:
        detail = answer.json().get("detail", answer.text) if answer.content else answer.reason_phrase
        kind = next((k for k, status in HTTP_STATUS.items() if status == answer.status_code), ErrorKind.UNAVAILABLE)
        fail(f"training of {config.spec.model_name} failed: {detail}", EXIT_CODE[kind])
    return answer.json()


def _tag_project_run(project_run: str | None, outcome: dict[str, Any]) -> None:
    """Under `mlflow run`, point the project's run at the training run it started."""
    if not project_run or project_run == outcome.get("run_id"):
        return
    client = registry.client(get_settings())
    client.set_tag(project_run, Tag.TRAINING_RUN_ID, outcome["run_id"])
    client.set_tag(project_run, Tag.MODEL, f"{outcome['model_name']} version {outcome['version']}")
    client.set_tag(project_run, Tag.DECISION, outcome["decision"])
    for key in ("rmse", "mae", "mase"):
        if key in outcome.get("metrics", {}):
            client.log_metric(project_run, key, outcome["metrics"][key])


def _check_runner(task_runner: str) -> None:
    if task_runner not in ("threads", "dask"):
        fail("--task-runner must be threads or dask")


def retrain(
    config: ConfigFile = Path("series.yaml"),
    task_runner: TaskRunner = "threads",
    max_workers: Annotated[
        int | None, typer.Option(min=1, help="Series trained at once (threads or local Dask workers).")
    ] = None,
) -> None:
    """Run `retrain_all` once over every series of the config file; exit code 1 if any failed."""
    _check_runner(task_runner)
    settings = get_settings()
    with reported(settings):
        from core.mongo import database_url

        load_retrain_config(config)
        database_url(settings)
        from pipelines.flows import retrain_all, send_queued_events

        summary = retrain_all(config_path=str(config), task_runner=task_runner, max_workers=max_workers)
        send_queued_events()
    print_summary(summary)
    where_to_look(settings)
    if summary["failed"]:
        raise typer.Exit(1)


def print_summary(summary: dict[str, Any]) -> None:
    console.print(outcome_table(summary["results"]))
    worse_than_naive(summary["results"])
    for name, error in summary["failed"].items():
        err.print(f"[red]{name}[/]: {error}", highlight=False)
    console.print(
        f"promoted {len(summary['promoted'])}, kept the champion for {len(summary['kept_champion'])}, "
        f"failed {len(summary['failed'])}"
    )


def promote(
    model: Annotated[str, typer.Argument(help="Registered model name (see `mlts models`).")],
    version: Annotated[str, typer.Argument(help="Version to give the champion alias.")],
) -> None:
    """Give a version the champion alias by hand, overriding the promotion rule (tagged as such)."""
    from core.locks import training_lock
    from core.mongo import connect, database_url
    from ml.errors import ModelFormatError
    from pipelines import promotion

    settings = get_settings()
    with reported(settings):
        db = connect(database_url(settings), settings.mongodb_timeout_ms)[settings.mongodb_database]
        with training_lock(db, model, settings.training_lock_ttl_seconds, "mlts promote"):
            try:
                decision = promotion.promote_by_hand(registry.client(settings), settings, model, version)
            except ModelFormatError as exc:
                fail(f"{model} version {version} cannot be served: {exc}")
    previous = f" (was version {decision.champion_version})" if decision.champion_version else ""
    console.print(f"{model}: version {version} is now {settings.model_alias}{previous}")


def models() -> None:
    """List registered models with their champion and challenger versions."""
    settings = get_settings()
    client = registry.client(settings)
    table = Table("model", "versions", settings.model_alias, settings.challenger_alias, "champion rmse", "promoted at")
    with reported(settings):
        for model in registry.all_registered_models(client):
            aliases = model.aliases or {}
            champion = aliases.get(settings.model_alias)
            summary = registry.alias_summary(model.tags, settings.model_alias)
            if champion is not None and summary.get("version") == str(champion):
                tags = {Tag.RMSE: summary.get("rmse", ""), Tag.PROMOTED_AT: summary.get("promoted_at", "")}
            else:  # promoted before mlts kept the summary, or moved by hand outside mlts
                tags = client.get_model_version(model.name, str(champion)).tags if champion is not None else {}
            latest = max((int(v.version) for v in model.latest_versions or []), default=0)
            table.add_row(
                model.name,
                str(latest),
                str(champion or ""),
                str(aliases.get(settings.challenger_alias, "")),
                tags.get(Tag.RMSE, ""),
                tags.get(Tag.PROMOTED_AT, ""),
            )
    console.print(table)


def schedule(
    cron: Annotated[str, typer.Option(help='Cron expression, e.g. "0 3 * * *" (03:00 daily).')] = "0 3 * * *",
    config: ConfigFile = Path("series.yaml"),
    task_runner: TaskRunner = "threads",
    timezone: Annotated[str, typer.Option(help="Time zone of the cron expression.")] = "UTC",
    monitor_cron: Annotated[
        str, typer.Option(help='Cron of `monitor_all` (live accuracy, drift), hourly by default; "" for none.')
    ] = "0 * * * *",
) -> None:
    """Serve `retrain_all` as a Prefect deployment on a cron schedule (runs until stopped), and
    `monitor_all` on its own (`--monitor-cron`).

    A schedule needs a Prefect server, whose scheduler creates the runs: PREFECT_API_URL's, else
    the local stack's (`mlts up`), else one started now in the background (`mlts down` stops it).
    The deployment, its schedule and every run show in its UI."""
    _check_runner(task_runner)
    settings = get_settings()
    with reported(settings):
        load_retrain_config(config)
        _ensure_prefect_server(settings)
        from pipelines.schedule import monitoring_deployment, retraining_deployment, serve

        try:
            retraining_deployment(cron, config, task_runner, timezone)
            if monitor_cron:
                monitoring_deployment(monitor_cron, config, timezone)
        except ValueError as exc:
            fail(f"invalid schedule (--cron {cron!r}, --monitor-cron {monitor_cron!r}): {exc}")
    also = f" and monitor-all on {monitor_cron!r}" if monitor_cron else ""
    console.print(
        f"serving retrain-all on {cron!r}{also} ({timezone}) for the series in {config}; Ctrl-C to stop",
        highlight=False,
    )
    serve(cron, config, task_runner, timezone, monitor_cron or None)


def _ensure_prefect_server(settings: Settings) -> None:
    """Prefect's temporary server runs no scheduler: a cron deployment served on it never fires."""
    if os.environ.get("PREFECT_API_URL"):
        return
    service = stack.start(settings, "prefect")
    from core.bootstrap import bootstrap

    bootstrap()
    console.print(
        f"no Prefect server was configured: started one at {service.url} (its UI; its scheduler creates the runs; "
        "`mlts down` stops it)",
        highlight=False,
    )
