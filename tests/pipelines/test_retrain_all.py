"""`retrain_all` over several series, on the thread pool and on a Dask LocalCluster, and the cron
deployment that schedules it."""

import asyncio
import logging

import numpy as np
import pytest
import yaml

from core import registry
from core.settings import get_settings
from core.training_config import ConfigFileError, load_retrain_config
from pipelines.flows import retrain_all
from pipelines.schedule import retraining_deployment
from tests.series_data import daily_series

GOOD = [
    {"collection": "readings", "filter": {"additional_features.sensor_id": f"s{i}"}, "window_size": 12}
    for i in (1, 2, 3)
]
BROKEN = {"collection": "readings", "filter": {"additional_features.sensor_id": "tiny"}, "window_size": 12}


def _seed(seed_series) -> None:
    for i in (1, 2, 3):
        seed_series(values=daily_series(seed=i), sensor=f"s{i}")
    seed_series(values=daily_series()[:20], sensor="tiny")


def _by_name(summary: dict) -> dict[str, dict]:
    return {o["model_name"]: o for o in summary["results"]}


def test_one_broken_series_never_stops_the_others(mongo_db, mlflow_store, seed_series) -> None:
    _seed(seed_series)
    summary = retrain_all(series=[*GOOD, BROKEN])
    assert sorted(summary["promoted"]) == [f"readings.value.sensor_id-s{i}" for i in (1, 2, 3)]
    assert list(summary["failed"]) == ["readings.value.sensor_id-tiny"]
    assert "too few points" in summary["failed"]["readings.value.sensor_id-tiny"]
    client = registry.client(get_settings())
    assert sorted(m.name for m in client.search_registered_models()) == summary["promoted"]

    again = retrain_all(series=GOOD)
    assert sorted(again["kept_champion"]) == sorted(summary["promoted"]) and again["promoted"] == []


@pytest.mark.slow
def test_dask_cluster_trains_on_two_workers_and_matches_the_thread_pool(mongo_db, mlflow_store, seed_series) -> None:
    _seed(seed_series)
    threads = _by_name(retrain_all(series=[*GOOD, BROKEN], task_runner="threads"))
    dask = retrain_all(series=[*GOOD, BROKEN], task_runner="dask", max_workers=2)
    assert list(dask["failed"]) == ["readings.value.sensor_id-tiny"]
    assert not logging.getLogger("distributed.batched").isEnabledFor(logging.INFO)  # no shutdown traceback
    workers = {o["worker"] for o in dask["results"] if o["status"] == "succeeded"}
    assert len(workers) == 2, workers
    assert all(not w.endswith(f":{__import__('os').getpid()}") for w in workers)
    for name, outcome in _by_name(dask).items():
        if outcome["status"] == "succeeded":
            assert outcome["decision"] == "challenger"
            np.testing.assert_allclose(outcome["metrics"]["rmse"], threads[name]["metrics"]["rmse"], rtol=1e-12)
            assert outcome["champion_rmse"] == pytest.approx(threads[name]["rmse"], rel=1e-12)


def test_config_file_is_read_with_defaults_and_checked(tmp_path) -> None:
    path = tmp_path / "series.yaml"
    path.write_text(
        yaml.safe_dump(
            {"defaults": {"window_size": 12, "epochs": 500}, "series": [GOOD[0], {**GOOD[1], "window_size": 6}]}
        )
    )
    configs = load_retrain_config(path)
    assert [c.window_size for c in configs] == [12, 6] and {c.epochs for c in configs} == {500}
    path.write_text(yaml.safe_dump({"series": [{"collection": "bad$name"}]}))
    with pytest.raises(ConfigFileError, match="collection_name must be"):
        load_retrain_config(path)
    path.write_text(yaml.safe_dump({"series": [{"collection": "ok", "filter": {"x": {"$gt": 1}}}]}))
    with pytest.raises(ConfigFileError, match="operators and nested objects are not accepted"):
        load_retrain_config(path)


def test_cron_deployment_exists_with_its_schedule(tmp_path) -> None:
    from prefect.client.orchestration import get_client

    config = tmp_path / "series.yaml"
    config.write_text(yaml.safe_dump({"series": GOOD}))
    deployment = retraining_deployment("0 3 * * *", config)

    async def apply_and_read():
        deployment_id = await deployment.apply()
        async with get_client() as client:
            return await client.read_deployment(deployment_id)

    stored = asyncio.run(apply_and_read())
    assert stored.name == "scheduled-retraining"
    assert [s.schedule.cron for s in stored.schedules] == ["0 3 * * *"]
    assert stored.parameters["config_path"] == str(config.resolve())
    with pytest.raises(ValueError):
        retraining_deployment("not a cron", config)
