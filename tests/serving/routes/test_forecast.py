"""`/predict` and `/predict/batch` against a champion trained by the real flow."""

import io
import json

import numpy as np
import pytest

from core import registry
from core.settings import get_settings
from serving.arrays import NPY
from tests.series_data import daily_series
from tests.serving.conftest import MODEL_S1


def _points(values, start_hour: int = 0) -> list[dict]:
    return [
        {"timestamp": f"2024-02-{1 + (start_hour + i) // 24:02d}T{(start_hour + i) % 24:02d}:00:00Z", "value": float(v)}
        for i, v in enumerate(values)
    ]


def _champion_model():
    client = registry.client(get_settings())
    return registry.load_version(client, client.get_model_version_by_alias(MODEL_S1, "champion"))


def test_prediction_equals_the_models_own_forecast(api) -> None:
    values = daily_series()[-30:]
    response = api.post("/predict", json={"data": _points(values), "window_size": 12, "horizon": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    model = _champion_model()
    expected = model.forecast(values, 3)
    assert body["prediction"] == pytest.approx(expected[0], rel=1e-12)
    assert [p["value"] for p in body["predictions"]] == pytest.approx(expected.tolist(), rel=1e-12)
    assert [p["timestamp"] for p in body["predictions"]] == [
        "2024-02-02T06:00:00Z",
        "2024-02-02T07:00:00Z",
        "2024-02-02T08:00:00Z",
    ]
    assert all(p["lower"] <= p["value"] <= p["upper"] for p in body["predictions"])
    assert body["model"] == {"name": MODEL_S1, "version": "1", "alias": "champion", "run_id": body["model"]["run_id"]}
    assert body["model"]["run_id"] and body["window_size"] == 12


def test_unsorted_points_are_sorted_and_only_the_last_window_counts(api) -> None:
    values = daily_series()[-40:]
    points = _points(values)
    shuffled = points[::-1]
    a = api.post("/predict", json={"data": shuffled}).json()
    b = api.post("/predict", json={"data": points[-12:]}).json()
    assert a["prediction"] == pytest.approx(b["prediction"], rel=1e-12)
    assert a["prediction"] == pytest.approx(_champion_model().forecast(values, 1)[0], rel=1e-12)


def test_epoch_milliseconds_and_zoned_timestamps(api) -> None:
    values = daily_series()[-12:]
    start = 1_706_745_600_000  # 2024-02-01T00:00:00Z
    by_ms = api.post(
        "/predict", json={"data": [{"timestamp": start + i * 3_600_000, "value": v} for i, v in enumerate(values)]}
    )
    zoned = [{"timestamp": f"2024-02-01T{i + 2:02d}:00:00+02:00", "value": v} for i, v in enumerate(values)]
    by_zone = api.post("/predict", json={"data": zoned})
    assert by_ms.status_code == by_zone.status_code == 200
    assert (
        by_ms.json()["predictions"][0]["timestamp"]
        == by_zone.json()["predictions"][0]["timestamp"]
        == "2024-02-01T12:00:00Z"
    )


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"data": [], "window_size": 12}, 422, "data is empty"),
        ({"data": "x"}, 422, "Expected `array | null`, got `str` - at `$.data`"),
        (
            {"data": [{"timestamp": "2024-01-01T00:00:00Z", "value": "abc"}]},
            422,
            "Expected `float`, got `str` - at `$.data[0].value`",
        ),
        (
            {"data": [{"timestamp": "yesterday", "value": 1.0}]},
            422,
            "data[0].timestamp 'yesterday' is not an ISO-8601 date-time",
        ),
        ({"data": [{"timestamp": "2024-01-01T00:00:00Z"}]}, 422, "missing required field `value`"),
        ({"window_size": 12}, 422, "send data (a list of {timestamp, value} points) or collection_name"),
        (
            {"data": "POINTS", "window_size": 24},
            422,
            "window_size=24 does not match model readings.value.sensor_id-s1, trained with window_size=12",
        ),
        ({"data": "POINTS5"}, 422, "data has 5 points but model readings.value.sensor_id-s1 needs window_size=12"),
        (
            {"data": "POINTS", "model": "nope"},
            404,
            "model 'nope' is not served; served models: readings.value.sensor_id-s1",
        ),
        ({"data": "POINTS", "horizon": 0}, 422, "Expected `int` >= 1 - at `$.horizon`"),
        ({"data": "POINTS", "horizon": 100000}, 422, "over the limit of 1000 (MAX_HORIZON)"),
        ({"data": "POINTS", "window_size": -3}, 422, "at `$.window_size`"),
        ({"data": "DUPLICATES"}, 422, "duplicate timestamps"),
        ({"collection_name": "a$b"}, 422, "`$.collection_name`"),
        ({"collection_name": "readings", "filter": {"$where": "1"}}, 422, "`$.filter"),
        ({"collection_name": "readings", "filter": {"x": {"$gt": 1}}}, 422, "`$.filter"),
        ({"collection_name": "missing"}, 404, "collection 'missing' does not exist"),
    ],
)
def test_bad_input_gets_its_status_and_message(api, body, status, message) -> None:
    points = _points(daily_series()[-20:])
    if body.get("data") == "POINTS":
        body["data"] = points
    elif body.get("data") == "POINTS5":
        body["data"] = points[:5]
    elif body.get("data") == "DUPLICATES":
        body["data"] = points + [points[-1]]
    response = api.post("/predict", json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"data": [{"timestamp": 1, "value": NaN}]}', "not valid JSON"),
        ('{"data": [{"timestamp": 1, "value": Infinity}]}', "not valid JSON"),
        ('{"data": [{"timestamp": 1, "value": 1e400}]}', "number out of range"),
        ("[" * 5000 + "]" * 5000, "Expected `object`"),
        ("", "the request body is empty"),
        ("{", "not valid JSON"),
    ],
)
def test_malformed_bodies_get_422_not_500(api, raw, message) -> None:
    response = api.post("/predict", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


def test_body_over_the_limit_is_413(champion, make_client) -> None:
    api = make_client(MAX_BODY_BYTES="2048")
    response = api.post("/predict", content=b"{" + b" " * 5000 + b"}", headers={"content-type": "application/json"})
    assert response.status_code == 413 and "MAX_BODY_BYTES" in response.json()["detail"]


def test_too_many_points_is_422(champion, make_client) -> None:
    api = make_client(MAX_POINTS="50")
    response = api.post("/predict", json={"data": _points(np.arange(60.0))})
    assert response.status_code == 422 and "over the limit of 50 (MAX_POINTS)" in response.json()["detail"]


def test_forecast_from_the_latest_points_in_mongo(api) -> None:
    response = api.post(
        "/predict",
        json={"collection_name": "readings", "filter": {"additional_features.sensor_id": "s1"}, "horizon": 2},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    values = daily_series()
    assert body["prediction"] == pytest.approx(_champion_model().forecast(values, 1)[0], rel=1e-12)
    assert body["model"]["name"] == MODEL_S1
    assert body["predictions"][0]["timestamp"] == "2024-02-03T08:00:00Z"  # 800 hourly points from 2024-01-01


def test_batch_equals_the_models_vectorised_predict(api) -> None:
    values = daily_series()
    windows = np.lib.stride_tricks.sliding_window_view(values, 12)[:500]
    response = api.post("/predict/batch", content=json.dumps({"windows": windows.tolist(), "horizon": 2}))
    assert response.status_code == 200, response.text
    body = response.json()
    model = _champion_model()
    np.testing.assert_allclose(np.array(body["predictions"]), model.forecast_windows(windows, 2), rtol=1e-12)
    assert np.all(np.array(body["lower"]) <= np.array(body["predictions"]))
    bad = api.post("/predict/batch", json={"windows": [[1.0, 2.0]]})
    assert bad.status_code == 422 and "window_size=12" in bad.json()["detail"]
    assert api.post("/predict/batch", json={"windows": []}).status_code == 422


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_a_npy_batch_answers_in_npy_with_the_json_paths_numbers(api) -> None:
    windows = np.lib.stride_tricks.sliding_window_view(daily_series(), 12)[:300]
    as_json = api.post("/predict/batch", json={"windows": windows.tolist(), "horizon": 3}).json()
    answer = api.post(
        "/predict/batch?horizon=3", content=_npy(windows.astype(np.float32)), headers={"content-type": NPY}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == NPY and answer.headers["x-model-version"] == "1"
    predictions, lower, upper = np.load(io.BytesIO(answer.content), allow_pickle=False)
    assert predictions.shape == (300, 3) and np.all(lower <= predictions) and np.all(predictions <= upper)
    widened = windows.astype(np.float32).astype(np.float64)  # float32 is read, as float64
    np.testing.assert_allclose(predictions, _champion_model().forecast_windows(widened, 3), rtol=1e-12)
    exact = api.post("/predict/batch?horizon=3", content=_npy(windows), headers={"content-type": NPY})
    exact_predictions, exact_lower, exact_upper = np.load(io.BytesIO(exact.content))
    np.testing.assert_array_equal(exact_predictions, np.array(as_json["predictions"]))
    np.testing.assert_array_equal(exact_lower, np.array(as_json["lower"]))
    np.testing.assert_array_equal(exact_upper, np.array(as_json["upper"]))


@pytest.mark.parametrize(
    ("body", "query", "message"),
    [
        (b"not an array", "", "not a .npy array"),
        (None, "", "shape (5, 11)"),
        ("strings", "", "not numbers"),
        ("object", "", "not a .npy array"),
        ("nan", "", "finite numbers only"),
        (None, "?horizon=zero", "horizon='zero' in the query"),
        (None, "?version=99", "has no version or alias '99'"),
    ],
)
def test_malformed_npy_batches_get_422_that_says_what_to_send(api, body, query, message) -> None:
    made = {
        None: lambda: _npy(np.ones((5, 11))),
        "strings": lambda: _npy(np.array([["a"] * 12])),
        "object": _pickled,
        "nan": lambda: _npy(np.full((2, 12), np.nan)),
    }
    content = body if isinstance(body, bytes) else made[body]()
    if body is None and query:
        content = _npy(np.ones((2, 12)))
    answer = api.post(f"/predict/batch{query}", content=content, headers={"content-type": NPY})
    assert answer.status_code in (404, 422) and message in answer.json()["detail"], answer.text


def _pickled() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([[{"a": 1}] * 12], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def test_metrics_count_predictions_per_model_version(api) -> None:
    assert api.post("/predict", json={"data": _points(daily_series()[-12:])}).status_code == 200
    text = api.get("/metrics").text
    assert f'mlts_predictions_total{{model="{MODEL_S1}",version="1"}}' in text
    assert 'mlts_http_requests_total{method="POST",route="/predict",status="200"}' in text
    assert "mlts_model_reloads_total" in text


def test_points_with_a_gap_in_the_window_are_refused_with_the_gap_named(api) -> None:
    values = daily_series()[-30:]
    points = _points(values)
    del points[24:27]  # three hours missing inside the last window of 12
    response = api.post("/predict", json={"data": points})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "1 gap in the sampling at a step of 1 hour (3 points missing" in detail and "gaps=fail" in detail
    older = _points(values)
    del older[2:4]  # a gap before the window does not matter
    assert api.post("/predict", json={"data": older}).status_code == 200
