"""`train_series` end to end on the real stack: embedded Mongo, MLflow on a temp SQLite store,
Prefect in ephemeral mode."""

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from core import registry
from core.settings import get_settings
from core.training_config import TrainingConfig
from ml import model_format
from ml.pyfunc import input_columns
from pipelines import tracking
from pipelines.flows import train_series
from pipelines.tracking import LOSS_POINTS
from pipelines.validation import ValidationFailed
from tests.series_data import daily_series

NAME = "readings.value.sensor_id-s1"
FILTER = {"additional_features.sensor_id": "s1"}

PARAMS = {
    "window_size",
    "epochs",
    "learning_rate",
    "patience",
    "collection",
    "value_field",
    "timestamp_field",
    "filter",
    "data_start",
    "data_end",
    "rows",
    "train_points",
    "holdout_points",
    "code_version",
    "holdout_fraction",
}
METRICS = {
    "mae",
    "mse",
    "rmse",
    "mase",
    "final_loss",
    "training_samples",
    "epochs_trained",
    "naive_mae",
    "naive_rmse",
    "naive_mse",
    "naive_mase",
    "seasonal_naive_rmse",
    "seasonal_naive_mae",
    "loss",
}


def _artifacts(client, run_id: str, path: str = "") -> set[str]:
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= _artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return found


@pytest.mark.parametrize("epochs", [7, LOSS_POINTS, LOSS_POINTS + 1, 1601, 100_000])
def test_the_loss_history_keeps_every_epoch_or_the_first_ones_and_fewer_later(epochs: int) -> None:
    chosen = tracking._sampled(epochs, LOSS_POINTS)
    assert chosen[0] == 0 and chosen[-1] == epochs - 1 and np.all(np.diff(chosen) > 0)
    if epochs <= LOSS_POINTS:
        assert len(chosen) == epochs
    else:
        assert LOSS_POINTS // 2 <= len(chosen) <= LOSS_POINTS and list(chosen[:10]) == list(range(10))
        gaps = np.diff(chosen)
        assert gaps[-1] > gaps[len(gaps) // 2] >= gaps[0] == 1  # dense where the loss falls fast


def test_first_training_registers_a_champion_with_everything_logged(mongo_db, mlflow_store, seed_series) -> None:
    seed_series()
    outcome = train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=12))
    assert outcome["status"] == "succeeded" and outcome["decision"] == "promoted" and outcome["version"] == "1"
    assert outcome["model_name"] == NAME

    settings = get_settings()
    client = registry.client(settings)
    run = client.get_run(outcome["run_id"])
    assert PARAMS <= set(run.data.params)
    assert run.data.params["window_size"] == "12" and json.loads(run.data.params["filter"]) == FILTER
    assert "mongodb://" not in json.dumps(run.data.params)
    assert METRICS <= set(run.data.metrics)
    history = client.get_metric_history(outcome["run_id"], "loss")
    epochs, steps = int(run.data.metrics["epochs_trained"]), [m.step for m in history]
    assert (
        len(history) == len(tracking._sampled(epochs, LOSS_POINTS)) and steps[:3] == [1, 2, 3] and steps[-1] == epochs
    )
    by_step = client.get_metric_history(outcome["run_id"], "holdout_rmse_by_step")  # error against the horizon
    assert [m.step for m in by_step] == list(range(1, len(by_step) + 1)) and len(by_step) > 10
    assert (
        by_step[0].value == pytest.approx(run.data.metrics["rmse"], rel=1e-9) and by_step[-1].value > by_step[0].value
    )
    coverage = [m.value for m in client.get_metric_history(outcome["run_id"], "holdout_coverage_by_step")]
    assert coverage and all(0 < c <= 1 for c in coverage)
    assert {"plots/loss_curve.svg", "plots/holdout_forecast.svg", "validation/report.json", "model.json"} <= _artifacts(
        client, outcome["run_id"]
    )
    assert run.info.run_name.startswith(f"{NAME} w12 ") and run.info.status == "FINISHED"
    assert run.data.tags["mlts.decision"] == "promoted" and run.data.tags["mlts.status"] == "succeeded"
    assert client.get_experiment(run.info.experiment_id).name == NAME

    model = client.get_registered_model(NAME)
    assert "readings.value where additional_features.sensor_id=s1" in model.description
    version = client.get_model_version_by_alias(NAME, "champion")
    assert str(version.version) == "1" and version.tags["mlts.decision"] == "promoted"
    assert version.tags["mlts.evidence"] == "holdout"
    assert version.tags["mlts.reason"] and version.description
    logged = client.get_logged_model(run.outputs.model_outputs[0].model_id)  # figures on the model's own page
    assert {m.key: m.value for m in logged.metrics}["rmse"] == run.data.metrics["rmse"]
    assert "loss" not in {m.key for m in logged.metrics}
    assert logged.source_run_id == outcome["run_id"] and logged.tags.get("mlflow.modelVersions")
    assert logged.experiment_id == run.info.experiment_id  # its files beside the run's, under MLTS_HOME
    assert client.get_run(outcome["run_id"]).info.status == "FINISHED"

    # The pyfunc served by MLflow predicts what the JSON model predicts.
    json_model = registry.load_version(client, version)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    windows = np.lib.stride_tricks.sliding_window_view(daily_series()[:100], 12)
    frame = pd.DataFrame(windows, columns=input_columns(12))
    np.testing.assert_allclose(np.asarray(pyfunc.predict(frame)).ravel(), json_model.predict(windows), rtol=1e-12)
    local = Path(mlflow.artifacts.download_artifacts(f"runs:/{outcome['run_id']}/model.json"))
    assert model_format.load(local).weights.tolist() == json_model.weights.tolist()


def test_champion_moves_only_to_a_better_version(mongo_db, mlflow_store, seed_series) -> None:
    seed_series()
    first = train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=12, epochs=1))
    assert first["decision"] == "promoted"
    better = train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=12))
    assert better["decision"] == "promoted" and better["champion_version"] == "1"
    assert better["rmse"] < better["champion_rmse"]
    worse = train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=12, epochs=1))
    assert worse["decision"] == "challenger" and worse["champion_version"] == "2"
    assert worse["champion_rmse"] == pytest.approx(better["rmse"], rel=1e-9)

    client = registry.client(get_settings())
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "2"
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == "3"
    tags = client.get_model_version(NAME, "3").tags
    assert tags["mlts.decision"] == "challenger" and "does not beat" in tags["mlts.reason"]
    assert float(tags["mlts.champion_rmse"]) == pytest.approx(better["rmse"])
    assert client.get_run(worse["run_id"]).data.tags["mlts.decision"] == "challenger"

    # the registered model carries its champion's summary, so a fleet is listed in one search
    tags = client.get_registered_model(NAME).tags
    assert registry.alias_summary(tags, "challenger")["version"] == "3"
    summary = registry.alias_summary(tags, "champion")
    assert summary["version"] == "2" and summary["run_id"] == better["run_id"]
    assert float(summary["rmse"]) == pytest.approx(better["rmse"])
    (entry,) = registry.promoted_models(client, "champion")
    assert (entry.version, entry.run_id) == ("2", better["run_id"])
    assert entry.promoted_at == client.get_model_version(NAME, "2").tags["mlts.promoted_at"]
    client.set_registered_model_alias(NAME, "champion", "3")  # moved outside mlts: the summary is stale
    (entry,) = registry.promoted_models(client, "champion")
    assert (entry.version, entry.run_id) == ("3", worse["run_id"])


def test_the_gate_can_compare_both_versions_on_backtest_folds_of_the_training_part(
    mongo_db, mlflow_store, seed_series, monkeypatch
) -> None:
    seed_series()
    first = train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=12, epochs=1))
    monkeypatch.setenv("PROMOTION_EVIDENCE", "backtest")
    get_settings.cache_clear()
    better = train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=12))
    worse = train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=12, epochs=1))
    assert (first["decision"], better["decision"], worse["decision"]) == ("promoted", "promoted", "challenger")

    client = registry.client(get_settings())
    for outcome, verdict in ((better, "beats"), (worse, "does not beat")):
        tags = client.get_model_version(NAME, outcome["version"]).tags
        assert tags["mlts.evidence"] == "backtest" and "backtest RMSE" in tags["mlts.reason"]
        assert verdict in tags["mlts.reason"]
        folds = json.loads(tags["mlts.backtest"])
        train_points = int(client.get_run(outcome["run_id"]).data.params["train_points"])
        assert len(folds) >= 2 and all(f["origin"] < train_points for f in folds)  # never the holdout
        mean_new = np.mean([f["rmse"] for f in folds])
        mean_champion = np.mean([f["champion_rmse"] for f in folds])
        assert (mean_new < mean_champion) == (verdict == "beats")
        assert float(tags["mlts.rmse"]) == pytest.approx(outcome["rmse"])  # the holdout score stays on record
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == better["version"]


def test_the_backtest_gate_judges_a_series_too_short_for_blocks_of_its_season_on_short_blocks(
    mongo_db, mlflow_store, seed_series, monkeypatch
) -> None:
    """Two days of hourly readings cannot hold folds of a day; the gate judges them on the short
    blocks the search would use, rather than falling back to one holdout."""
    seed_series(values=daily_series(60))
    first = train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=3, epochs=1))
    monkeypatch.setenv("PROMOTION_EVIDENCE", "backtest")
    get_settings.cache_clear()
    second = train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=3))
    assert (first["decision"], second["decision"]) == ("promoted", "promoted")
    tags = registry.client(get_settings()).get_model_version(NAME, second["version"]).tags
    assert tags["mlts.evidence"] == "backtest" and "beats" in tags["mlts.reason"], tags["mlts.reason"]
    folds = json.loads(tags["mlts.backtest"])
    assert len(folds) >= 2 and all(later["origin"] - earlier["origin"] < 24 for earlier, later in zip(folds, folds[1:]))


@pytest.mark.parametrize(
    ("breakage", "named"),
    [
        ("nan", "value field missing, null or NaN: 3 of"),
        ("duplicates", "duplicate timestamps"),
        ("few", "too few points"),
        ("text", "value is not a number: 2 of"),
    ],
)
def test_bad_series_fails_validation_and_registers_nothing(
    mongo_db, mlflow_store, seed_series, breakage, named
) -> None:
    docs = seed_series("good")
    broken = [dict(d) for d in docs]
    if breakage == "nan":
        # NaN as the embedded server (JSON storage) and most writers store it: null, or no field.
        broken[10]["value"] = broken[20]["value"] = None
        del broken[30]["value"]
    elif breakage == "duplicates":
        broken[41]["timestamp"] = broken[40]["timestamp"]
    elif breakage == "few":
        broken = broken[:30]
    elif breakage == "text":
        broken[5]["value"] = "n/a"
        broken[6]["value"] = "12,5"
    mongo_db.broken.insert_many(broken)

    state = train_series(TrainingConfig(collection="broken", filter=FILTER, window_size=12), return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, ValidationFailed) and named in str(error)

    client = registry.client(get_settings())
    assert client.search_registered_models() == []
    runs = client.search_runs([client.get_experiment_by_name("broken.value.sensor_id-s1").experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FAILED"
    assert named.split(":")[0] in runs[0].data.tags["mlts.error"]
    assert "validation/report.json" in _artifacts(client, runs[0].info.run_id)


def test_missing_collection_fails_with_the_collections_there_are(mongo_db, mlflow_store, seed_series) -> None:
    seed_series()
    state = train_series(TrainingConfig(collection="nowhere"), return_state=True)
    assert state.is_failed()
    assert "collection 'nowhere' does not exist" in str(state.result(raise_on_failure=False))
    assert "readings" in str(state.result(raise_on_failure=False))
