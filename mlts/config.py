"""`mlts config`: the settings in effect, where each comes from, passwords masked."""

from rich.table import Table

from core.settings import Settings, get_settings
from mlts.console import console


def show_config() -> None:
    """Show the settings in effect (passwords masked) and the variable that sets each."""
    table = Table("setting", "value", "variable", "meaning", box=None)
    variables = Settings.variables()
    for name, value in get_settings().describe().items():
        variable, meaning = variables[name]
        table.add_row(name, str(value), variable, meaning)
    console.print(table)
