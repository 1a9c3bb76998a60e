"""The training commands as a person runs them: `mlts train`, `mlts promote`, `mlts models`,
`mlts retrain`, and `mlflow run` on the MLproject."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from core import registry
from core.settings import get_settings
from mlts.cli import app
from mlts.console import worse_than_naive

NAME = "readings.value.sensor_id-s1"
runner = CliRunner()


def test_train_prints_run_metrics_version_and_decision(mongo_db, mlflow_store, seed_series) -> None:
    seed_series()
    result = runner.invoke(
        app,
        ["train", "--collection", "readings", "--filter", "additional_features.sensor_id=s1", "--window-size", "12"],
    )
    assert result.exit_code == 0, result.output
    assert NAME in result.output and "promoted" in result.output
    assert "version 1 promoted (no champion yet" in result.output
    client = registry.client(get_settings())
    run_id = client.get_model_version_by_alias(NAME, "champion").run_id
    assert f"run {run_id}: version 1 promoted" in result.output
    assert client.get_run(run_id).data.params["window_size"] == "12"
    assert "worse than the naive forecast" not in result.stderr


def test_train_failure_exits_non_zero_with_the_reason(mongo_db, mlflow_store, seed_series) -> None:
    seed_series(values=[1.0, 2.0, 3.0])
    result = runner.invoke(app, ["train", "--collection", "readings", "--window-size", "12"])
    assert result.exit_code == 1
    assert "training of readings.value failed" in result.stderr and "too few points" in result.stderr
    bad = runner.invoke(app, ["train", "--collection", "readings", "--filter", 'x:={"$gt": 1}'])
    assert bad.exit_code == 1 and "operators and nested objects are not accepted" in bad.stderr
    bad = runner.invoke(app, ["train", "--collection", "readings", "--learning-rate", "3"])
    assert bad.exit_code == 1 and "learning_rate" in bad.stderr


def test_promote_by_hand_moves_the_alias_and_says_so(mongo_db, mlflow_store, seed_series) -> None:
    seed_series()
    base = ["train", "--collection", "readings", "--filter", "additional_features.sensor_id=s1", "--window-size", "12"]
    assert runner.invoke(app, base).exit_code == 0
    assert runner.invoke(app, [*base, "--epochs", "1"]).exit_code == 0
    client = registry.client(get_settings())
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"

    result = runner.invoke(app, ["promote", NAME, "2"])
    assert result.exit_code == 0, result.output
    assert "version 2 is now champion (was version 1)" in result.output
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "2"
    assert client.get_model_version(NAME, "2").tags["mlts.promoted_by"] == "mlts promote"

    listing = runner.invoke(app, ["models"])
    assert NAME in listing.output
    missing = runner.invoke(app, ["promote", NAME, "9"])
    assert missing.exit_code == 1 and "version 9" in missing.stderr


def test_retrain_reports_failures_with_exit_code(mongo_db, mlflow_store, seed_series, tmp_path: Path) -> None:
    seed_series()
    config = tmp_path / "series.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "defaults": {"window_size": 12},
                "series": [
                    {"collection": "readings", "filter": {"additional_features.sensor_id": "s1"}},
                    {"collection": "absent"},
                ],
            }
        )
    )
    result = runner.invoke(app, ["retrain", "--config", str(config)])
    assert result.exit_code == 1
    assert "promoted 1, kept the champion for 0, failed 1" in result.output
    assert "collection 'absent' does not exist" in result.stderr


@pytest.mark.slow
def test_mlflow_run_of_the_train_entry_point(mongo_db, mlflow_store, seed_series) -> None:
    seed_series()
    bin_dir = str(Path(sys.executable).parent)  # an activated virtualenv
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store, "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    done = subprocess.run(
        [
            Path(sys.executable).parent / "mlflow",
            "run",
            ".",
            "-e",
            "train",
            "--env-manager",
            "local",
            "-P",
            "collection=readings",
            "-P",
            "filter=additional_features.sensor_id=s1",
            "-P",
            "window_size=12",
            "--experiment-name",
            "projects",
        ],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    client = registry.client(get_settings())
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    project_runs = client.search_runs([client.get_experiment_by_name("projects").experiment_id])
    assert project_runs[0].data.tags.get("mlts.decision") == "promoted", (
        project_runs[0].data.tags,
        done.stdout[-2000:],
    )
    assert client.get_run(project_runs[0].data.tags["mlts.training_run_id"]).data.params["window_size"] == "12"


def test_train_warns_when_the_model_forecasts_worse_than_naive(mongo_db, mlflow_store, seed_series) -> None:
    """A first version is promoted whatever its score: the warning is where a person learns that
    its window was too large for the series."""
    seed_series(values=np.cumsum(np.random.default_rng(0).normal(0, 1, 60)))
    result = runner.invoke(app, ["train", "--collection", "readings", "--window-size", "24"])
    assert result.exit_code == 0, result.output
    assert "version 1 promoted" in result.output
    assert "readings.value forecasts its holdout worse than the naive forecast" in result.stderr
    assert "mlts tune" in result.stderr


def test_a_fleet_gets_one_warning_line_not_one_per_series(capsys) -> None:
    outcomes = [{"model_name": f"s{i}", "metrics": {"rmse": 2.0, "naive_rmse": 1.0}} for i in range(8)]
    outcomes.append({"model_name": "good", "metrics": {"rmse": 0.5, "naive_rmse": 1.0}})
    worse_than_naive(outcomes)
    warned = capsys.readouterr().err
    assert warned.count("warning:") == 1 and "8 of 9 models" in warned and "good" not in warned
    worse_than_naive(outcomes[:2] + outcomes[-1:])
    assert capsys.readouterr().err.count("warning:") == 2
