"""A request that pins a version: by number or alias, loaded on demand, never logged as live."""

import numpy as np
import pytest

from core import registry
from core.monitoring import MILLISECONDS, unpacked
from core.processes import poll_until
from core.settings import get_settings
from core.training_config import TrainingConfig
from pipelines.flows import train_series
from tests.series_data import daily_series
from tests.serving.conftest import FILTER_S1, MODEL_S1
from tests.serving.routes.test_forecast import _points


def _version(number: str):
    client = registry.client(get_settings())
    return registry.load_version(client, client.get_model_version(MODEL_S1, number))


def test_a_request_gets_the_version_it_names(champion, make_client, mongo_db) -> None:
    for _ in range(2):  # two undertrained versions: 2, then 3, behind the challenger alias
        worse = train_series(TrainingConfig(collection="readings", filter=FILTER_S1, window_size=12, epochs=1))
        assert worse["decision"] == "challenger"
    api = make_client()
    assert poll_until(lambda: MODEL_S1 in api.app.state.mlts.store.challengers, 10)
    values = daily_series()[-30:]
    for asked, version, alias in (("2", "2", None), ("challenger", "3", "challenger"), ("1", "1", "champion")):
        answer = api.post("/predict", json={"data": _points(values), "version": asked, "horizon": 2})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["model"]["version"], body["model"]["alias"]) == (version, alias)
        expected = _version(version).forecast(values, 2)
        assert [p["value"] for p in body["predictions"]] == pytest.approx(expected.tolist(), rel=1e-12)

    window = values[-12:]
    batch = api.post("/predict/batch", json={"windows": [window.tolist()], "version": "2"})
    assert batch.status_code == 200 and batch.json()["model"]["version"] == "2"
    np.testing.assert_allclose(batch.json()["predictions"], _version("2").forecast_windows(window[None], 1), rtol=1e-12)

    missing = api.post("/predict", json={"data": _points(values), "version": "99"})
    assert missing.status_code == 404 and "has no version or alias '99'" in missing.json()["detail"]
    malformed = api.post("/predict", json={"data": _points(values), "version": "two words"})
    assert malformed.status_code == 422 and "version" in malformed.json()["detail"]

    # Only the champion's answer is a live forecast (with its challenger's shadow); the pinned
    # ones are reproductions, which the monitor must not count.
    log = mongo_db[get_settings().prediction_log_collection]
    assert poll_until(lambda: log.count_documents({}) >= 2 and not api.app.state.mlts.log.queue, 10)
    logged = {(d["role"], d["version"], len(unpacked(d["target_ms"], MILLISECONDS))) for d in log.find()}
    assert logged == {("champion", "1", 2), ("challenger", "3", 2)}
