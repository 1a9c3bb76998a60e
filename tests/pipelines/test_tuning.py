"""`train_series` with tune: the backtest chooses the unit, every candidate is a child run, and
the holdout never takes part in the choice."""

import json
from datetime import timedelta

import mlflow
import numpy as np
import pytest

from core import registry
from core.settings import get_settings
from core.training_config import TrainingConfig
from pipelines.flows import train_series
from pipelines.validation import ValidationFailed
from tests.series_data import T0, daily_series

FILTER = {"additional_features.sensor_id": "s1"}


def _selection(run_id: str) -> dict:
    path = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/tuning/selection.json")
    with open(path) as file:
        return json.load(file)


def test_tuning_chooses_by_backtest_and_logs_each_candidate_as_a_child_run(mongo_db, mlflow_store, seed_series) -> None:
    seed_series(values=daily_series(800))
    outcome = train_series(TrainingConfig(collection="readings", filter=FILTER, tune=True))
    assert outcome["status"] == "succeeded" and outcome["decision"] == "promoted"
    client = registry.client(get_settings())
    run = client.get_run(outcome["run_id"])
    assert run.data.params["tune"] == "True" and run.data.params["tune_strategy"] in ("ensemble", "best", "default")
    assert run.info.run_name.startswith(f"{outcome['model_name']} tune ")  # not the default window it did not use
    selection = _selection(outcome["run_id"])
    children = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{outcome['run_id']}'", max_results=500
    )
    assert len(children) == selection["candidates_scored"] >= 5
    assert all("backtest_rmse_mean" in child.data.metrics for child in children)
    assert any(child.data.tags["mlts.chosen"] == "true" for child in children)
    best = min(child.data.metrics["backtest_rmse_mean"] for child in children)
    assert min(m["backtest_rmse"] for m in selection["members"]) >= best  # members come from the candidates
    served = registry.load_version(client, client.get_model_version(outcome["model_name"], outcome["version"]))
    assert served.window_size == int(run.data.params["tuned_window"]) == selection["effective_window"]
    assert np.isfinite(outcome["metrics"]["rmse"]) and outcome["metrics"]["rmse"] < outcome["metrics"]["naive_rmse"]


def test_a_fleet_can_keep_the_candidates_in_the_report_instead_of_child_runs(
    mongo_db, mlflow_store, seed_series, monkeypatch
) -> None:
    monkeypatch.setenv("TUNE_CHILD_RUNS", "false")
    get_settings.cache_clear()
    seed_series(values=daily_series(300))
    outcome = train_series(TrainingConfig(collection="readings", filter=FILTER, tune=True))
    assert outcome["status"] == "succeeded"
    client = registry.client(get_settings())
    run = client.get_run(outcome["run_id"])
    children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{outcome['run_id']}'")
    selection = _selection(outcome["run_id"])
    assert children == [] and len(selection["candidates"]) == selection["candidates_scored"] >= 5
    scores = [c["backtest_rmse_mean"] for c in selection["candidates"]]
    assert scores == sorted(scores) and sum(c["chosen"] for c in selection["candidates"]) == len(selection["members"])


def test_poisoning_the_holdout_does_not_change_the_choice(mongo_db, mlflow_store, seed_series) -> None:
    values = daily_series(800)
    poisoned = values.copy()
    poisoned[-160:] += np.random.default_rng(0).normal(0, 50, 160)  # the holdout: the last 20 %
    seed_series(values=values)
    seed_series(collection="poisoned", values=poisoned)
    clean = train_series(TrainingConfig(collection="readings", filter=FILTER, tune=True))
    dirty = train_series(TrainingConfig(collection="poisoned", filter=FILTER, tune=True))
    assert clean["metrics"]["rmse"] * 5 < dirty["metrics"]["rmse"]  # the poison is in the holdout it scores on
    a, b = _selection(clean["run_id"]), _selection(dirty["run_id"])
    assert a["members"] == b["members"] and a["strategy"] == b["strategy"] and a["strategy_rmse"] == b["strategy_rmse"]


def test_a_new_sensor_too_short_for_the_default_window_can_be_tuned(mongo_db, mlflow_store, seed_series) -> None:
    """30 hourly readings cannot train the default window of 24 and keep a holdout; the search
    needs only what its smallest candidates need."""
    values = 10 + 3 * np.sin(2 * np.pi * np.arange(30) / 24) + np.random.default_rng(3).normal(0, 0.3, 30)
    seed_series(values=values)
    with pytest.raises(ValidationFailed, match="tuning, needs fewer"):
        train_series(TrainingConfig(collection="readings", filter=FILTER))
    tuned = train_series(TrainingConfig(collection="readings", filter=FILTER, tune=True))
    assert tuned["status"] == "succeeded" and tuned["decision"] == "promoted" and tuned["tuned"] is True
    run = registry.client(get_settings()).get_run(tuned["run_id"])
    assert int(run.data.params["tuned_window"]) <= 5  # 20 training points: 4 differences, 3 windows per weight
    mongo_db["readings"].delete_many({"timestamp": {"$gte": T0 + timedelta(hours=17)}})
    with pytest.raises(ValidationFailed, match="tuning plus the holdout needs at least 18"):
        train_series(TrainingConfig(collection="readings", filter=FILTER, tune=True))
