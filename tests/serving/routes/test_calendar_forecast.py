"""A champion that reads the calendar, chosen by the real tuning flow: `/predict` dates its
forecasts from the points' timestamps, the batch route asks for them, and the shadow log gets them."""

import io
import json
from datetime import UTC, datetime

import numpy as np
import pytest

from core import registry
from core.settings import get_settings
from core.training_config import TrainingConfig
from ml.calendar_inputs import YEAR
from pipelines.flows import train_series
from serving.arrays import NPY
from tests.ml.series_factory import ar

FILTER = {"additional_features.sensor_id": "s1"}
HOURS = 24 * 40
T0_SECONDS = 1_704_067_200.0  # 2024-01-01T00:00:00Z, where tests.series_data starts


def _fixed_daily_shape() -> np.ndarray:
    """Hourly readings whose daily shape is the same every day, under weakly correlated noise."""
    t = np.arange(HOURS)
    phase = 2 * np.pi * t / 24
    return 20 + 4 * np.sin(phase) + 2 * np.cos(2 * phase) + ar(np.random.default_rng(5), HOURS, [0.3], scale=0.8)


@pytest.fixture
def dated(mongo_db, mlflow_store, seed_series, make_client):
    values = _fixed_daily_shape()
    seed_series(values=values)
    outcome = train_series(TrainingConfig(collection="readings", filter=FILTER, tune=True))
    assert outcome["decision"] == "promoted", outcome
    client = registry.client(get_settings())
    model = registry.load_version(client, client.get_model_version(outcome["model_name"], outcome["version"]))
    return make_client(), model, values


def _points(values: np.ndarray, first_hour: int) -> list[dict]:
    return [
        {"timestamp": int((T0_SECONDS + (first_hour + i) * 3600) * 1000), "value": float(v)}
        for i, v in enumerate(values)
    ]


def test_a_calendar_champion_forecasts_by_the_points_dates(dated) -> None:
    api, model, values = dated
    assert model.calendar is not None, "a fixed daily shape should be learnt from the day's phase"
    assert any(member.calendar_harmonics for member in model.structure)
    info = api.get("/model/info").json()
    assert info["calendar"] and set(info["calendar"]) <= {"day", "week"}  # the answer says it needs dates
    w = model.window_size
    last = HOURS - 1
    window = values[last - w + 1 :]
    answer = api.post("/predict", json={"data": _points(window, last - w + 1), "horizon": 3})
    assert answer.status_code == 200, answer.text
    expected = model.forecast(window, 3, T0_SECONDS + (last + 1) * 3600)
    assert [p["value"] for p in answer.json()["predictions"]] == pytest.approx(expected.tolist(), rel=1e-12)
    # The same values dated half a day later are another forecast.
    later = api.post("/predict", json={"data": _points(window, last - w + 13)}).json()["prediction"]
    assert later == pytest.approx(model.forecast(window, 1, T0_SECONDS + (last + 13) * 3600)[0], rel=1e-12)
    assert abs(later - expected[0]) > 0.5


def test_the_batch_route_asks_a_calendar_model_for_the_forecasts_dates(dated) -> None:
    api, model, values = dated
    w = model.window_size
    windows = np.lib.stride_tricks.sliding_window_view(values, w)[:50]
    firsts = T0_SECONDS + (np.arange(50) + w) * 3600
    missing = api.post("/predict/batch", json={"windows": windows.tolist()})
    assert missing.status_code == 422 and "reads the calendar" in missing.json()["detail"]
    wrong = api.post("/predict/batch", json={"windows": windows.tolist(), "timestamps": [1, 2]})
    assert wrong.status_code == 422 and "one per window (50)" in wrong.json()["detail"]
    unreadable = api.post("/predict/batch", json={"windows": windows.tolist(), "timestamps": ["soon"]})
    assert unreadable.status_code == 422 and "timestamps[0] 'soon' is not an ISO-8601" in unreadable.json()["detail"]
    body = {"windows": windows.tolist(), "horizon": 2, "timestamps": (firsts * 1000).tolist()}
    answer = api.post("/predict/batch", content=json.dumps(body))
    assert answer.status_code == 200, answer.text
    expected = model.forecast_windows(windows, 2, firsts)
    np.testing.assert_allclose(np.array(answer.json()["predictions"]), expected, rtol=1e-12)
    buffer = io.BytesIO()
    np.save(buffer, windows[:1])
    one = api.post(
        "/predict/batch?timestamp=2024-01-03T05:00:00Z", content=buffer.getvalue(), headers={"content-type": NPY}
    )
    assert one.status_code == 200, one.text
    predictions = np.load(io.BytesIO(one.content))[0]
    np.testing.assert_allclose(predictions, model.forecast_windows(windows[:1], 1, T0_SECONDS + 53 * 3600), rtol=1e-12)
    no_date = api.post("/predict/batch", content=buffer.getvalue(), headers={"content-type": NPY})
    assert no_date.status_code == 422 and "`timestamp` in the query" in no_date.json()["detail"]


def test_the_mlflow_pyfunc_of_a_calendar_model_reads_a_timestamp_column(dated) -> None:
    import mlflow
    import pandas as pd

    from ml.pyfunc import input_columns

    _, model, values = dated
    w = model.window_size
    windows = np.lib.stride_tricks.sliding_window_view(values, w)[:5]
    firsts = T0_SECONDS + (np.arange(5) + w) * 3600
    frame = pd.DataFrame(windows, columns=input_columns(w))
    frame["timestamp"] = firsts
    name = registry.client(get_settings()).search_registered_models()[0].name
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_allclose(np.asarray(pyfunc.predict(frame)).ravel(), model.predict(windows, firsts), rtol=1e-12)


def test_monthly_forecasts_read_the_calendar_at_each_months_date(mongo_db, mlflow_store, make_client) -> None:
    """Twelve recursive steps of a monthly calendar model are dated by calendar months, as the
    answer's timestamps are, not by the mean month of 30.44 days; from `/predict` and the batch route."""
    months = np.datetime64("2000-01", "M") + np.arange(240)
    seconds = months.astype("datetime64[s]").astype(np.int64).astype(float)
    phase = 2 * np.pi * (seconds % YEAR) / YEAR
    values = 20 + 3 * np.sin(phase + 0.4) + 1.5 * np.cos(2 * phase) + ar(np.random.default_rng(2), 240, [0.5])
    mongo_db["readings"].insert_many(
        [
            {"timestamp": datetime.fromtimestamp(t, UTC), "value": float(v), "additional_features": {"sensor_id": "s1"}}
            for t, v in zip(seconds, values, strict=True)
        ]
    )
    outcome = train_series(TrainingConfig(collection="readings", filter=FILTER, tune=True))
    assert outcome["decision"] == "promoted", outcome
    client = registry.client(get_settings())
    model = registry.load_version(client, client.get_model_version(outcome["model_name"], outcome["version"]))
    assert model.calendar is not None, "a fixed yearly shape should be learnt from the date"
    w = model.window_size
    points = [{"timestamp": int(t * 1000), "value": float(v)} for t, v in zip(seconds[-w:], values[-w:], strict=True)]
    answer = make_client().post("/predict", json={"data": points, "horizon": 12})
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    ahead = np.datetime64("2020-01", "M") + np.arange(12)
    assert [p["timestamp"] for p in predictions] == [f"{month}-01T00:00:00Z" for month in ahead]
    dates = ahead.astype("datetime64[s]").astype(np.int64).astype(float)
    expected = model.forecast_windows(values[-w:], 12, dates[None, :])[0]
    assert [p["value"] for p in predictions] == pytest.approx(expected.tolist(), rel=1e-12)
    mean_month = dates[0] + model.calendar.step * np.arange(12)
    by_mean_month = model.forecast_windows(values[-w:], 12, mean_month[None, :])[0]
    assert not np.allclose(expected, by_mean_month, rtol=1e-9, atol=0)
    # The batch route gets only the first date; the model steps by months from it.
    body = {"windows": [values[-w:].tolist()], "horizon": 12, "timestamps": ["2020-01-01T00:00:00Z"]}
    batch = make_client().post("/predict/batch", json=body)
    assert batch.status_code == 200, batch.text
    assert batch.json()["predictions"][0] == pytest.approx(expected.tolist(), rel=1e-12)
