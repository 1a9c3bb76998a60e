"""The CLI as a person runs it, against the session's MongoDB."""

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from core.embedded_mongo import free_port
from core.settings import get_settings
from mlts.cli import app

runner = CliRunner()


def test_seed_reports_written_and_rejected_rows(mongo_db, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("timestamp,value,sensor_id\n2024-01-01T00:00:00Z,1,a\nbad,2,a\n2024-01-01T02:00:00Z,x,a\n")
    result = runner.invoke(app, ["seed", "--csv", str(path), "--collection", "r"])
    assert result.exit_code == 0, result.output
    assert "3 rows read, 1 written" in result.output and "2 rejected" in result.output
    assert "line 3: timestamp 'bad'" in result.output
    assert "line 4: value 'x' is not a finite number" in result.output
    assert mongo_db.r.count_documents({}) == 1


def test_seed_refuses_a_bad_collection_name(mongo_db, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("timestamp,value\n2024-01-01T00:00:00Z,1\n")
    result = runner.invoke(app, ["seed", "--csv", str(path), "--collection", "a$b"])
    assert result.exit_code == 1
    assert "collection_name must be" in result.output


def test_seed_demo_then_demo_trains_promotes_and_serves(mongo_db, mlflow_store, monkeypatch) -> None:
    result = runner.invoke(app, ["seed", "--demo"])
    assert result.exit_code == 0, result.output
    assert "4320 written" in result.output
    port = free_port()
    monkeypatch.setenv("PORT", str(port))
    get_settings.cache_clear()
    result = runner.invoke(app, ["demo", "--days", "20"])
    try:
        assert result.exit_code == 0, result.output
        for text in ("sensor_readings.value.sensor_id-temp_office", "power_plant", "promoted", "rmse", "mase", "naive rmse"):
            assert text in result.output
        assert f"mlts API running in the background at http://127.0.0.1:{port}" in result.output
        assert '"alias": "champion"' in result.output and f"curl -s http://127.0.0.1:{port}/health" in result.output
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
        assert health["status"] == "healthy" and len(health["models"]) == 3
    finally:
        stopped = runner.invoke(app, ["serve", "--stop"])
    assert "stopped the background API" in stopped.output
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)


def test_unreachable_mongo_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("MONGODB_URL", f"mongodb://user:pw@127.0.0.1:{free_port()}/")
    monkeypatch.setenv("MONGODB_TIMEOUT_MS", "300")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["demo", "--days", "20"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "cannot reach MongoDB at mongodb://user:***@127.0.0.1" in result.output
    assert "pw@" not in result.output


def test_config_masks_passwords(monkeypatch) -> None:
    monkeypatch.setenv("MONGODB_URL", "mongodb://user:topsecret@db:27017/")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["config"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0
    assert "user:***@db" in result.output and "topsecret" not in result.output
