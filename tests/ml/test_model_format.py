import json
from pathlib import Path

import numpy as np
import pytest

from ml import Hyperparameters, ModelFormatError, PerceptronForecaster, calibrate, model_format
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
    np.testing.assert_array_equal(
        loaded.bounds(loaded.forecast_windows(windows, 3))[1], fitted.bounds(fitted.forecast_windows(windows, 3))[1]
    )
    assert loaded.hyperparameters == fitted.hyperparameters
    assert loaded.metadata == fitted.metadata
    assert loaded.epochs_trained == fitted.epochs_trained
    document = json.loads(path.read_text())
    assert document["format"] == "mlts-perceptron" and document["format_version"] == 3
    assert set(document) >= {
        "weights",
        "bias",
        "scaler",
        "window_size",
        "structure",
        "intervals",
        "training",
        "metadata",
        "calendar",
    }
    assert document["structure"] == {
        "kind": "single",
        "effective_window": 8,
        "members": [
            {
                "window_size": 8,
                "differencing": "none",
                "season_length": 1,
                "seasonal_lags": 0,
                "effective_window": 8,
                "weight": 1.0,
                "backtest_rmse": None,
                "calendar_period": 0.0,
                "calendar_harmonics": 0,
            }
        ],
    }
    assert document["calendar"] is None


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
        (lambda d: d.update(format_version=True), "unsupported model format_version True"),
        (lambda d: d.pop("structure"), "structure must be a JSON object"),
        (lambda d: d["structure"].update(kind="bag"), "structure.kind must be 'single' or 'ensemble'"),
        (lambda d: d["structure"].update(effective_window=9), "structure.effective_window is 9 but window_size is 8"),
        (lambda d: d["structure"].update(members=[]), "structure.members must be a non-empty list"),
        (lambda d: d["structure"]["members"].append(dict(d["structure"]["members"][0])), "exactly one member"),
        (
            lambda d: d["structure"]["members"][0].update(differencing="log"),
            r"members\[0\].differencing must be one of",
        ),
        (
            lambda d: d["structure"]["members"][0].update(window_size=7, effective_window=7),
            "the longest member needs a window of 7",
        ),
        (lambda d: d["structure"]["members"][0].update(window_size=7), "effective_window is 8, its structure needs 7"),
        (
            lambda d: d["structure"]["members"][0].update(season_length=0),
            r"members\[0\].season_length must be an integer >= 1",
        ),
        (lambda d: d["structure"]["members"][0].update(weight=0.5), "weights must sum to 1"),
        (lambda d: d["structure"]["members"][0].update(backtest_rmse="x"), "backtest_rmse must be a finite number"),
        (lambda d: d["structure"]["members"][0].update(color="red"), r"members\[0\] has unknown field\(s\) color"),
        (lambda d: d["structure"]["members"][0].update(differencing="seasonal"), "needs season_length >= 2"),
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


_V1_DOCUMENT = {
    "format": "mlts-perceptron",
    "format_version": 1,
    "window_size": 3,
    "weights": [0.1, -0.2, 0.9],
    "bias": 0.05,
    "scaler": {"mean": 10.0, "std": 2.0},
    "hyperparameters": {"epochs": 500, "learning_rate": 1.0, "patience": 100, "tolerance": 1e-9, "seed": 42},
    "training": {"epochs_trained": 321, "final_loss": 0.25, "training_samples": 97},
    "intervals": {"level": 0.9, "lower": [-1.0, -1.5], "upper": [1.0, 1.5]},
    "metadata": {"model_name": "old"},
}


def test_a_version_1_document_still_loads_and_forecasts_the_same() -> None:
    model = model_format.loads(json.dumps(_V1_DOCUMENT))
    window = np.array([9.0, 11.0, 12.0])
    by_hand = (window - 10.0) @ np.array([0.1, -0.2, 0.9]) + 2.0 * 0.05 + 10.0
    assert model.window_size == 3
    assert model.predict(window)[0] == pytest.approx(by_hand)
    assert model.structure[0].differencing == "none" and model.structure[0].window_size == 3
    assert model.epochs_trained == 321 and model.metadata == {"model_name": "old"}
    resaved = json.loads(model_format.dumps(model))
    assert (
        resaved["format_version"] == model_format.FORMAT_VERSION
        and resaved["calendar"] is None
        and resaved["structure"]["kind"] == "single"
    )
    np.testing.assert_array_equal(model_format.loads(json.dumps(resaved)).predict(window), model.predict(window))


def test_a_version_1_document_with_a_mismatched_window_is_still_rejected() -> None:
    document = json.loads(json.dumps(_V1_DOCUMENT))
    document["weights"].append(0.3)
    with pytest.raises(ModelFormatError, match="weights has 4 values but window_size is 3"):
        model_format.loads(json.dumps(document))


def _series(n: int = 300) -> np.ndarray:
    t = np.arange(n)
    return 20 + 0.05 * t + 2 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(3).normal(0, 0.3, n)


def test_a_differenced_model_round_trips_with_its_structure(tmp_path: Path) -> None:
    from ml.forecaster import Member

    values = _series()
    hp = Hyperparameters(window_size=2, differencing="both", season_length=12, seasonal_lags=2)
    model = PerceptronForecaster(hp).fit(values[:250])
    model.members = (Member.of(hp, 1.0, 0.42),)
    loaded = model_format.load(model_format.save(model, tmp_path / "model.json"))
    assert loaded.window_size == model.window_size == 37
    assert loaded.hyperparameters == hp
    assert loaded.structure == model.structure and loaded.structure[0].backtest_rmse == 0.42
    windows = np.lib.stride_tricks.sliding_window_view(values, 37)[-20:]
    np.testing.assert_array_equal(loaded.predict(windows), model.predict(windows))
    np.testing.assert_array_equal(loaded.forecast_windows(windows, 12), model.forecast_windows(windows, 12))


def test_an_ensemble_round_trips_with_every_member(tmp_path: Path) -> None:
    from ml.ensemble import combine

    values = _series()
    models = [
        PerceptronForecaster(Hyperparameters(window_size=5)).fit(values[:250]),
        PerceptronForecaster(Hyperparameters(window_size=3, differencing="seasonal", season_length=12)).fit(
            values[:250]
        ),
    ]
    ensemble = combine(models, [0.7, 0.3])
    ensemble.intervals = calibrate(ensemble.forecast_windows, values, 250, ensemble.window_size)
    text = model_format.dumps(ensemble)
    document = json.loads(text)
    assert document["structure"]["kind"] == "ensemble"
    assert document["window_size"] == document["structure"]["effective_window"] == 15 == len(document["weights"])
    assert [m["weight"] for m in document["structure"]["members"]] == pytest.approx([0.7, 0.3])
    assert [m["effective_window"] for m in document["structure"]["members"]] == [5, 15]
    loaded = model_format.loads(text)
    assert loaded.structure == ensemble.structure
    windows = np.lib.stride_tricks.sliding_window_view(values, 15)[-10:]
    np.testing.assert_array_equal(loaded.forecast_windows(windows, 5), ensemble.forecast_windows(windows, 5))
    np.testing.assert_array_equal(
        loaded.bounds(loaded.forecast_windows(windows, 5))[0], ensemble.bounds(ensemble.forecast_windows(windows, 5))[0]
    )
    broken = json.loads(text)
    broken["structure"]["kind"] = "single"
    with pytest.raises(ModelFormatError, match="exactly one member, got 2"):
        model_format.loads(json.dumps(broken))
