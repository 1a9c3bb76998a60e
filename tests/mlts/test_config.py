"""`mlts config`: the settings in effect, passwords masked."""

from typer.testing import CliRunner

from core.settings import get_settings
from mlts.cli import app

runner = CliRunner()


def test_config_masks_passwords(monkeypatch) -> None:
    monkeypatch.setenv("MONGODB_URL", "mongodb://user:topsecret@db:27017/")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["config"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0
    assert "user:***@db" in result.output and "topsecret" not in result.output


def test_a_bad_setting_or_state_folder_is_one_line_not_a_traceback(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MAX_HORIZON", "abc")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["config"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and "max_horizon" in result.output.lower(), result.output
    assert "Traceback" not in result.output and "cannot start" in result.output
    monkeypatch.delenv("MAX_HORIZON")
    (tmp_path / "prefect").write_text("not a folder")
    monkeypatch.setenv("MLTS_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["config"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and "prefect" in result.output and "Traceback" not in result.output, result.output
