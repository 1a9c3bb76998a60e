"""The served models' cache under MLTS_HOME: a restart serves what it served before the registry
answers, and downloads no version it already has."""

import pytest

from core import registry
from core.settings import get_settings
from core.training_config import TrainingConfig
from pipelines.flows import train_series
from serving.model_store import ModelStore
from tests.series_data import daily_series
from tests.serving.conftest import FILTER_S1, MODEL_S1


def _unreachable(*_args, **_kwargs):
    raise ConnectionError("the registry is not asked")


def test_a_restart_serves_the_last_champion_before_the_registry_answers(champion, monkeypatch) -> None:
    settings = get_settings()
    first = ModelStore(settings)
    assert first.refresh() and first.models[MODEL_S1].version == "1"
    window = daily_series()[-12:]

    with monkeypatch.context() as offline:
        offline.setattr(registry, "client", _unreachable)
        restarted = ModelStore(settings)
        assert restarted.warm_start() == 1
        served = restarted.models[MODEL_S1]
        assert (served.version, served.alias, served.run_id) == ("1", "champion", champion["run_id"])
        assert served.model.forecast(window, 3) == pytest.approx(first.models[MODEL_S1].model.forecast(window, 3))
        assert served.metrics["rmse"] == first.models[MODEL_S1].metrics["rmse"] and served.params
        assert restarted.default_name == MODEL_S1

    # The alias moves while the API is down: the first refresh serves the new version.
    second = train_series(TrainingConfig(collection="readings", filter=FILTER_S1, window_size=12, epochs=1))
    registry.client(settings).set_registered_model_alias(MODEL_S1, settings.model_alias, second["version"])
    assert restarted.refresh() and restarted.models[MODEL_S1].version == second["version"]


def test_a_cached_version_is_not_downloaded_again(champion, monkeypatch) -> None:
    settings = get_settings()
    assert ModelStore(settings).refresh()
    monkeypatch.setattr(registry, "load_version", _unreachable)
    again = ModelStore(settings)
    assert again.refresh() and again.models[MODEL_S1].version == "1" and again.last_error is None


def test_a_store_made_anew_does_not_get_the_old_stores_models(champion) -> None:
    """Same MLTS_HOME and tracking URI, but another store (wiped and retrained): other run ids."""
    settings = get_settings()
    assert ModelStore(settings).refresh()
    cached = ModelStore(settings).cache
    entry = registry.Promoted(MODEL_S1, "1", "another-run", "")
    assert cached.get(entry) is None


def test_a_first_start_reads_each_champion_from_where_its_promotion_recorded_it(champion, monkeypatch) -> None:
    """No registry call per version (the fleet's first start): the alias summary names the model
    JSON; the run's params and metrics are read once the models serve."""
    settings = get_settings()
    summary = registry.alias_summary(registry.client(settings).get_registered_model(MODEL_S1).tags, "champion")
    assert summary["model_uri"].endswith("/model.json")
    asked: list[str] = []
    real = registry.load_version
    monkeypatch.setattr(registry, "load_version", lambda *a: asked.append("version") or real(*a))
    store = ModelStore(settings)
    assert store.refresh()
    served = store.models[MODEL_S1]
    assert asked == [] and served.described and served.params["window_size"] == "12" and served.metrics["rmse"] > 0
    assert served.model.window_size == 12 and store.cache.get(registry.Promoted(MODEL_S1, "1", champion["run_id"], ""))


def test_a_first_start_serves_from_the_store_before_mlflow_is_asked(champion, monkeypatch, tmp_path) -> None:
    settings = get_settings().model_copy(update={"home": tmp_path / "fresh-home"})  # nothing cached
    monkeypatch.setattr(registry, "client", _unreachable)
    store = ModelStore(settings)
    assert store.warm_start() == 1
    served = store.models[MODEL_S1]
    assert (served.version, served.alias, served.described) == ("1", "champion", False)
    assert store.default_name == MODEL_S1 and served.model.window_size == 12
