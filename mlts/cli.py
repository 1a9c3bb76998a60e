"""`mlts`: every operation a person runs by hand, one command module per group as a user thinks
of them (data, training, serving), assembled here."""

import typer

from core.bootstrap import bootstrap
from core.errors import classify
from core.processes import exit_on_sigterm
from mlts import config, data, demo, monitoring, serving, stack, training
from mlts.console import fail

app = typer.Typer(
    name="mlts",
    help="Time-series forecasting from MongoDB: seed data, train, promote, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


@app.callback()
def _bootstrap() -> None:
    try:
        bootstrap()
    except (OSError, ValueError) as exc:  # a setting from the environment, or MLTS_HOME, to fix
        fail(f"cannot start: {classify(exc).message} (check the environment, .env and MLTS_HOME)", 2)
    exit_on_sigterm()


for group, commands in {
    "Data": [data.mongo, data.seed],
    "Training": [training.train, training.tune, training.retrain, training.promote, training.models, training.schedule],
    "Serving": [serving.serve, serving.ui],
    "Monitoring": [monitoring.monitor],
    "Local stack": [stack.up, stack.status, stack.down],
    "Start here": [demo.demo],
    "Settings": [config.show_config],
}.items():
    for command in commands:
        name = "config" if command is config.show_config else None
        app.command(name, rich_help_panel=group)(command)
