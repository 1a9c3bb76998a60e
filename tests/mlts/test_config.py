"""`mlts config`: the settings in effect, passwords masked; bad settings said in one line."""

from typer.testing import CliRunner

from core.settings import get_settings
from mlts.cli import app

runner = CliRunner()


def _config(monkeypatch, **env: str):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return runner.invoke(app, ["config"])
    finally:
        get_settings.cache_clear()


def test_config_masks_passwords(monkeypatch) -> None:
    result = _config(monkeypatch, MONGODB_URL="mongodb://user:topsecret@db:27017/")
    assert result.exit_code == 0
    assert "user:***@db" in result.output and "topsecret" not in result.output


def test_a_bad_setting_or_state_folder_is_one_line_not_a_traceback(monkeypatch, tmp_path) -> None:
    result = _config(monkeypatch, MAX_HORIZON="abc")
    assert result.exit_code == 2 and "max_horizon" in result.output.lower(), result.output
    assert "Traceback" not in result.output and "cannot start" in result.output
    monkeypatch.delenv("MAX_HORIZON")
    (tmp_path / "prefect").write_text("not a folder")
    result = _config(monkeypatch, MLTS_HOME=str(tmp_path))
    assert result.exit_code == 2 and "prefect" in result.output and "Traceback" not in result.output, result.output
