import json
from pathlib import Path

import numpy as np
import pytest

from ml import Hyperparameters, ModelFormatError, PerceptronForecaster, calibrate
from ml import model_format
from ml.pyfunc import _load_pyfunc, input_columns


@pytest.fixture(scope="module")
def fitted() -> PerceptronForecaster:
    values = 5 + np.sin(np.arange(400) / 4.0) + np.random.default_rng(0).normal(0, 0.1, 400)
    model = PerceptronForecaster(Hyperparameters(window_size=8, epochs=500)).fit(values[:300])
    model.intervals = calibrate(model.forecast_windows, values, 300, 8)
    model.metadata = {"series": {"collection": "c"}, "trained_at": "2024-01-01T00:00:00Z"}
    return model


def test_json_round_trip_keeps_every_prediction(fitted: PerceptronForecaster, tmp_path: Path) -> None:
    path = model_format.save(fitted, tmp_path / "model.json")
    loaded = model_format.load(path)
    windows = np.random.default_rng(1).normal(5, 1, (20, 8))
    np.testing.assert_array_equal(loaded.predict(windows), fitted.predict(windows))
    np.testing.assert_array_equal(loaded.forecast_windows(windows, 7), fitted.forecast_windows(windows, 7))
    np.testing.assert_array_equal(loaded.bounds(loaded.forecast_windows(windows, 3))[1], fitted.bounds(fitted.forecast_windows(windows, 3))[1])
    assert loaded.hyperparameters == fitted.hyperparameters
    assert loaded.metadata == fitted.metadata
    assert loaded.epochs_trained == fitted.epochs_trained
    document = json.loads(path.read_text())
    assert document["format"] == "mlts-perceptron" and document["format_version"] == 1
    assert set(document) >= {"weights", "bias", "scaler", "window_size", "intervals", "training", "metadata"}


def test_saved_file_is_plain_json(fitted: PerceptronForecaster, tmp_path: Path) -> None:
    text = model_format.dumps(fitted)
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text)


def _document(fitted: PerceptronForecaster) -> dict:
    return json.loads(model_format.dumps(fitted))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format_version=99), "unsupported model format_version 99"),
        (lambda d: d.update(format="pickle"), "not an mlts model"),
        (lambda d: d["weights"].pop(), "weights has 7 values but window_size is 8"),
        (lambda d: d.update(weights=[float("nan")] * 8), "finite"),
        (lambda d: d.update(bias="1"), "bias must be a finite number"),
        (lambda d: d["scaler"].update(std=0), "scaler.std must be positive"),
        (lambda d: d.update(window_size=0), "window_size must be a positive integer"),
        (lambda d: d["intervals"].update(lower=[1.0]), "equal length"),
        (lambda d: d.update(hyperparameters={"epochs": 0}), "invalid hyperparameters"),
    ],
)
def test_loading_rejects_a_broken_model_with_a_clear_error(fitted: PerceptronForecaster, mutate, message: str) -> None:
    document = _document(fitted)
    mutate(document)
    with pytest.raises(ModelFormatError, match=message):
        model_format.loads(json.dumps(document))


def test_loading_rejects_truncated_and_non_object_files(fitted: PerceptronForecaster, tmp_path: Path) -> None:
    text = model_format.dumps(fitted)
    with pytest.raises(ModelFormatError, match="not valid JSON .* truncated"):
        model_format.loads(text[: len(text) // 2])
    with pytest.raises(ModelFormatError, match="must be a JSON object"):
        model_format.loads("[1, 2]")
    with pytest.raises(ModelFormatError, match="cannot read model file"):
        model_format.load(tmp_path / "missing.json")


def test_an_unfitted_model_cannot_be_saved() -> None:
    with pytest.raises(ModelFormatError, match="fitted"):
        model_format.dumps(PerceptronForecaster())


def test_pyfunc_loader_predicts_like_the_model(fitted: PerceptronForecaster, tmp_path: Path) -> None:
    import pandas as pd

    path = model_format.save(fitted, tmp_path / "model.json")
    pyfunc = _load_pyfunc(str(path))
    windows = np.random.default_rng(2).normal(5, 1, (4, 8))
    frame = pd.DataFrame(windows, columns=input_columns(8))
    assert input_columns(3) == ["lag_3", "lag_2", "lag_1"]
    np.testing.assert_array_equal(pyfunc.predict(frame), fitted.predict(windows))
    np.testing.assert_array_equal(pyfunc.predict(frame, params={"horizon": 3}), fitted.forecast_windows(windows, 3))
