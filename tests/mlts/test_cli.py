"""`mlts --help`: every command listed under its group, each summary readable as one paragraph."""

from typer.testing import CliRunner

from mlts.cli import app


def test_the_command_list_reads_as_sentences_not_docstring_lines() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "250", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    for group in ("Data", "Training", "Serving", "Monitoring", "Local stack", "Start here", "Settings"):
        assert f"─ {group} ─" in result.output
    for command in ("seed", "train", "tune", "retrain", "serve", "monitor", "up", "down", "demo", "config"):
        assert f"│ {command} " in result.output
    # The docstrings break these sentences across lines; the list joins them.
    assert "fit, evaluate, log to MLflow, register, and promote if it beats the champion" in result.output
    assert "search window, differencing, seasonal lags and calendar inputs by rolling-origin backtest" in result.output
