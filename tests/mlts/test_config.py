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
