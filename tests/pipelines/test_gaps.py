"""Series with gaps in their sampling: named by default, filled or cut on request, and the
input of every run recorded as an MLflow dataset."""

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from core import registry
from core.settings import get_settings
from core.training_config import TrainingConfig
from pipelines.flows import train_series
from pipelines.validation import ValidationFailed
from tests.series_data import documents

WEEKS = 300


def _weekly_with_gaps(mongo_db) -> None:
    """Weekly readings with 2 weeks missing after week 100 and 59 after week 180."""
    rng = np.random.default_rng(5)
    t = np.arange(WEEKS)
    values = 50 + 10 * np.sin(2 * np.pi * t / 52) + rng.normal(0, 1, WEEKS)
    docs = documents(values, "w1", start=datetime(2015, 1, 4, tzinfo=UTC), step=timedelta(weeks=1))
    kept = [d for i, d in enumerate(docs) if not (100 < i <= 102 or 180 < i <= 239)]
    mongo_db.weekly.insert_many(kept)


def test_gaps_fail_by_default_with_a_message_naming_them(mongo_db, mlflow_store) -> None:
    _weekly_with_gaps(mongo_db)
    state = train_series(TrainingConfig(collection="weekly", window_size=8), return_state=True)
    error = state.result(raise_on_failure=False)
    assert isinstance(error, ValidationFailed)
    text = str(error)
    assert "2 gaps in the sampling at a step of 7 days (61 points missing; the largest 59 after 2018-06-" in text
    assert "gaps: interpolate" in text and "drop_before" in text


def test_interpolate_fills_short_gaps_and_logs_how_many(mongo_db, mlflow_store) -> None:
    _weekly_with_gaps(mongo_db)
    short_only = train_series(
        TrainingConfig(collection="weekly", window_size=8, gaps="interpolate", max_gap_points=6), return_state=True
    )
    assert "longer than max_gap_points=6" in str(short_only.result(raise_on_failure=False))
    outcome = train_series(TrainingConfig(collection="weekly", window_size=8, gaps="interpolate", max_gap_points=60))
    assert outcome["status"] == "succeeded" and outcome["metrics"]["filled_points"] == 61
    client = registry.client(get_settings())
    run = client.get_run(outcome["run_id"])
    assert run.data.params["gaps"] == "interpolate" and run.data.metrics["filled_points"] == 61
    (dataset_input,) = run.inputs.dataset_inputs
    dataset = dataset_input.dataset
    source = json.loads(dataset.source)
    assert dataset.source_type == "mongodb" and source["collection"] == "weekly" and len(dataset.digest) == 8
    assert json.loads(dataset.profile)["num_rows"] == WEEKS - 61 + 61
    assert source["uri"].startswith("mongodb://") and source["database"] == mongo_db.name


def test_drop_before_trains_on_the_data_after_the_last_long_gap(mongo_db, mlflow_store) -> None:
    _weekly_with_gaps(mongo_db)
    outcome = train_series(TrainingConfig(collection="weekly", window_size=8, gaps="drop_before", max_gap_points=6))
    assert outcome["metrics"]["dropped_points"] == 179  # weeks 0..180 without the two missing
    assert outcome["metrics"]["filled_points"] == 0


@pytest.mark.parametrize("policy", ["fail", "interpolate"])
def test_the_gap_setting_is_a_cli_option_and_a_yaml_key(policy, tmp_path) -> None:
    from typer.testing import CliRunner

    from core.training_config import load_retrain_config
    from mlts.cli import app

    assert "--gaps" in CliRunner().invoke(app, ["train", "--help"]).output

    path = tmp_path / "series.yaml"
    path.write_text(f"defaults: {{gaps: {policy}, max_gap_points: 4}}\nseries:\n  - collection: weekly\n")
    (config,) = load_retrain_config(path)
    assert config.gaps == policy and config.max_gap_points == 4
