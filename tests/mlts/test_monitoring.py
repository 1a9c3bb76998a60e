"""`mlts monitor` as a person runs it, over forecasts logged the way the API logs them."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from core.training_config import TrainingConfig
from mlts.cli import app
from pipelines.flows import train_series
from tests.series_data import T0, daily_series

NAME = "readings.value.sensor_id-s1"
runner = CliRunner()
HOUR_MS = 3_600_000


def _log_forecasts(mongo_db, values: np.ndarray, first: int, count: int, offset: float) -> None:
    """One-step forecasts of points first..first+count, each `offset` away from what happened."""
    start_ms = int(T0.timestamp() * 1000)
    docs = [
        {
            "model": NAME,
            "version": "1",
            "role": "champion",
            "series": {
                "collection": "readings",
                "value_field": "value",
                "timestamp_field": "timestamp",
                "filter": {"additional_features.sensor_id": "s1"},
            },
            "request_id": f"r{i}",
            "issued_at": datetime.now(UTC),
            "first_target_ms": start_ms + i * HOUR_MS,
            "target_ms": [start_ms + i * HOUR_MS],
            "value": [float(values[i]) + offset],
            "lower": [float(values[i]) + offset - 1.0],
            "upper": [float(values[i]) + offset + 1.0],
        }
        for i in range(first, first + count)
    ]
    mongo_db.mlts_predictions.insert_many(docs)


def test_monitor_prints_live_figures_and_json(mongo_db, mlflow_store, seed_series) -> None:
    values = daily_series()
    seed_series(values=values)
    outcome = train_series(TrainingConfig(collection="readings", filter={"additional_features.sensor_id": "s1"}))
    _log_forecasts(mongo_db, values, 700, 60, offset=0.5)
    old = {"model": NAME, "issued_at": datetime.now(UTC) - timedelta(days=40), "target_ms": [1], "value": [1.0]}
    mongo_db.mlts_predictions.insert_many([old])  # past PREDICTION_LOG_RETENTION_DAYS (30)

    table = runner.invoke(app, ["monitor"])
    assert table.exit_code == 0, table.output
    assert NAME in table.output and "0.5" in table.output

    found = runner.invoke(app, ["monitor", "--series", NAME, "--json"])
    assert found.exit_code == 0, found.output
    (model,) = json.loads(found.output)["models"]
    champion = model["roles"]["champion"]
    assert champion["version"] == outcome["version"] and champion["n"] == 60
    every = [champion["rmse"], champion["mae"], -champion["bias"]]
    assert every == pytest.approx([0.5, 0.5, 0.5], rel=1e-9)  # every forecast was 0.5 too high
    assert champion["coverage"] == 1.0 and model["drift"]["performance"]["detected"] is False
    assert mongo_db.mlts_predictions.count_documents({}) == 60  # the 40-day-old forecast was deleted


def test_monitor_with_nothing_logged_says_so(mongo_db, mlflow_store) -> None:
    result = runner.invoke(app, ["monitor"])
    assert result.exit_code == 0 and "no model has logged forecasts yet" in result.output


@pytest.mark.slow
def test_the_command_sends_prefects_events_before_it_exits(mongo_db, mlflow_store) -> None:
    """Its own process, so Prefect's exit handler runs: events left queued are sent there, with a
    "Still processing items" warning after the command's table."""
    mlts = Path(sys.executable).parent / "mlts"
    done = subprocess.run([mlts, "monitor"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "no model has logged forecasts yet" in done.stdout
    assert "Still processing" not in done.stdout + done.stderr


def test_a_series_whose_actuals_stopped_arriving_raises_an_alert(mongo_db, mlflow_store, seed_series) -> None:
    values = daily_series()
    seed_series(values=values[:780])  # the sensor went quiet after 780 readings
    train_series(TrainingConfig(collection="readings", filter={"additional_features.sensor_id": "s1"}))
    _log_forecasts(mongo_db, values, 740, 60, offset=0.0)  # forecasts up to 799, all due by now
    found = runner.invoke(app, ["monitor", "--json"])
    assert found.exit_code == 0, found.output
    (model,) = json.loads(found.output)["models"]
    assert model["conditions"]["silent"] is True and model["last_alert"]["kind"] == "silent"
    assert "no actual values for 20 steps" in model["last_alert"]["seen"]
    assert model["roles"]["champion"]["n"] == 40  # the 40 forecasts whose actuals did arrive
