"""The registry read without MLflow, for the API's first look: the champion's version and model
JSON from the summary mlts writes, nothing stale."""

import pytest

from core import registry, registry_snapshot
from core.settings import get_settings
from core.training_config import TrainingConfig
from pipelines.flows import train_series

FILTER = {"additional_features.sensor_id": "s1"}
MODEL_S1 = "readings.value.sensor_id-s1"


@pytest.fixture
def champion(mongo_db, mlflow_store, seed_series) -> dict:
    seed_series()
    return train_series(TrainingConfig(collection="readings", filter=FILTER, window_size=12))


def test_the_summary_of_each_alias_is_read_from_the_store_itself(champion) -> None:
    settings = get_settings()
    (entry,) = registry_snapshot.aliased(settings.tracking_uri, ("champion",))["champion"]
    assert (entry.name, entry.version, entry.run_id) == (MODEL_S1, "1", champion["run_id"])
    assert entry.model_uri.startswith("file://") and entry.model_uri.endswith("/model.json")
    assert registry.load_model_json(None, entry.model_uri).window_size == 12

    client = registry.client(settings)
    client.set_registered_model_alias(MODEL_S1, "challenger", "1")  # moved outside mlts: no summary
    found = registry_snapshot.aliased(settings.tracking_uri, ("champion", "challenger"))
    assert found["challenger"] == [] and len(found["champion"]) == 1


def test_a_store_it_cannot_read_this_way_gives_nothing(tmp_path) -> None:
    assert not any(registry_snapshot.aliased(f"sqlite:///{tmp_path}/none.db", ("champion",)).values())
    (tmp_path / "broken.db").write_text("not a database")
    assert registry_snapshot.aliased(f"sqlite:///{tmp_path}/broken.db", ("champion",)) == {}
    assert registry_snapshot.aliased("http://127.0.0.1:9/", ("champion",)) == {}
    assert registry_snapshot.aliased("databricks", ("champion",)) == {}
