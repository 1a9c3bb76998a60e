from pathlib import Path

import pytest

from core.masking import mask_text, mask_url
from core.settings import Settings


def test_the_original_systems_names_keep_working(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "MONGODB_URL": "mongodb://db.example:27017",
        "MONGODB_DATABASE": "sensors",
        "PORT": "9001",
        "ENVIRONMENT": "production",
        "DEFAULT_WINDOW_SIZE": "10",
        "DEFAULT_EPOCHS": "50",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.mongo_url == "mongodb://db.example:27017"
    assert settings.mongodb_database == "sensors"
    assert settings.environment == "production"
    assert (settings.default_window_size, settings.default_epochs) == (10, 50)


def test_the_prefixed_name_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_WINDOW_SIZE", "10")
    monkeypatch.setenv("MLTS_DEFAULT_WINDOW_SIZE", "12")
    assert Settings().default_window_size == 12


def test_dotenv_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONGODB_DATABASE", raising=False)
    (tmp_path / ".env").write_text("MONGODB_DATABASE=from_dotenv\n")
    assert Settings().mongodb_database == "from_dotenv"


def test_bad_values_are_refused_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_WINDOW_SIZE", "0")
    with pytest.raises(ValueError, match="DEFAULT_WINDOW_SIZE"):
        Settings()


def test_local_state_defaults_under_mlts_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLTS_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = Settings()
    assert settings.tracking_uri == f"sqlite:///{tmp_path / 'state' / 'mlflow.db'}"
    assert settings.artifact_root == tmp_path / "state" / "mlartifacts"


def test_every_setting_is_documented_in_env_example() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    missing = [name for name in Settings.environment_variables() if f"{name}=" not in example]
    assert not missing, f".env.example lacks {missing}"


def test_passwords_are_masked_when_settings_are_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URL", "mongodb://admin:s3cret@db:27017/x")
    shown = Settings().describe()
    assert shown["mongodb_url"] == "mongodb://admin:***@db:27017/x"
    assert "s3cret" not in repr(Settings())


def test_mask_helpers() -> None:
    assert mask_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert mask_url("mongodb://h:27017") == "mongodb://h:27017"
    assert (
        mask_text("failed: mongodb+srv://me:pw@x.net/?a=1 key=abc", ["abc"])
        == "failed: mongodb+srv://me:***@x.net/?a=1 key=***"
    )
