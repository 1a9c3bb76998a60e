"""`mlts demo` end to end as a person runs it, and what it says when MongoDB is away."""

import httpx
import pytest
from typer.testing import CliRunner

from core.processes import free_port, poll_until
from core.settings import get_settings
from mlts.cli import app

runner = CliRunner()


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
        for text in (
            "sensor_readings.value.sensor_id-temp_office",
            "power_plant",
            "promoted",
            "rmse",
            "mase",
            "naive rmse",
        ):
            assert text in result.output
        assert f"mlts API running in the background at http://127.0.0.1:{port}" in result.output
        assert '"alias": "champion"' in result.output and f"curl -s http://127.0.0.1:{port}/health" in result.output
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
        assert health["status"] == "healthy" and len(health["models"]) == 3
        # The demo's "Try it" next step: its forecast is logged, none of its actuals will come.
        assert poll_until(lambda: mongo_db.mlts_predictions.count_documents({}) >= 1, 30)
        monitored = runner.invoke(app, ["monitor"])
        assert monitored.exit_code == 0, monitored.output
        assert "temp_office" in monitored.output
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
