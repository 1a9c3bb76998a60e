import numpy as np
import pytest

from core.demo import demo_frame
from ml import ForecastInputError, Hyperparameters, PerceptronForecaster, evaluate
from ml.forecaster import fit_many
from ml.windows import holdout_size, windows
from tests.ml.series_factory import kinds


def _least_squares_rmse(values: np.ndarray, start: int, window: int) -> float:
    """Holdout RMSE of the same linear model solved exactly (numpy.linalg.lstsq) on the same windows."""
    inputs, targets = windows(values, window)
    train = start - window
    design = np.hstack([inputs[:train], np.ones((train, 1))])
    coef = np.linalg.lstsq(design, targets[:train], rcond=None)[0]
    predicted = inputs[train:] @ coef[:-1] + coef[-1]
    return float(np.sqrt(np.mean((predicted - targets[train:]) ** 2)))


def _split(values: np.ndarray, window: int) -> int:
    return len(values) - holdout_size(len(values), window)


@pytest.mark.parametrize("sensor", ["temp_office", "humidity_office", "power_plant"])
def test_default_settings_reach_least_squares_on_the_demo_series(sensor: str) -> None:
    frame = demo_frame()
    values = frame.loc[frame.sensor_id == sensor, "value"].to_numpy(dtype=float)
    model = PerceptronForecaster()
    start = _split(values, model.window_size)
    model.fit(values[:start])
    rmse = evaluate(model, values, start)["rmse"]
    assert rmse <= 1.01 * _least_squares_rmse(values, start, model.window_size)
    assert model.epochs_trained < model.hyperparameters.epochs, "early stopping should end training"


@pytest.mark.parametrize("kind", list(kinds()))
@pytest.mark.parametrize("window", [5, 24])
def test_default_settings_reach_least_squares_on_other_kinds_of_series(kind: str, window: int) -> None:
    values = kinds(seed=3)[kind]
    start = _split(values, window)
    model = PerceptronForecaster(Hyperparameters(window_size=window)).fit(values[:start])
    ratio = evaluate(model, values, start)["rmse"] / _least_squares_rmse(values, start, window)
    assert ratio <= 1.01


@pytest.mark.parametrize("batched", [False, True])
def test_a_well_conditioned_unit_stops_once_its_loss_is_provably_near_the_optimum(batched: bool) -> None:
    values = 3.0 + np.random.default_rng(8).normal(size=2000)  # white noise: nearly orthogonal inputs
    hp = Hyperparameters(window_size=3)
    others = [Hyperparameters(window_size=12, differencing="first")] if batched else []
    model, *_ = fit_many([hp, *others], [values] * (1 + len(others)))
    exact, *_ = fit_many([hp, *others], [values] * (1 + len(others)), solver="exact")
    # Stopping on `patience` would need 100 epochs without improvement after convergence.
    assert model.epochs_trained < hp.patience
    assert model.final_loss - exact.final_loss <= hp.tolerance * exact.final_loss


def test_the_original_settings_would_not_converge() -> None:
    """Guards the claim behind our defaults: 100 epochs at a small step stop far from the optimum."""
    frame = demo_frame()
    values = frame.loc[frame.sensor_id == "power_plant", "value"].to_numpy(dtype=float)
    start = _split(values, 24)
    slow = PerceptronForecaster(Hyperparameters(window_size=24, epochs=100, learning_rate=0.01)).fit(values[:start])
    ratio = evaluate(slow, values, start)["rmse"] / _least_squares_rmse(values, start, 24)
    assert ratio > 1.05
    assert slow.epochs_trained == 100


def test_predict_is_vectorised_and_matches_the_linear_formula() -> None:
    values = kinds()["ar(2)"]
    model = PerceptronForecaster(Hyperparameters(window_size=8)).fit(values[:2000])
    inputs, _ = windows(values, 8)
    batch = model.predict(inputs[:100])
    by_hand = ((inputs[:100] - model.mean) / model.std @ model.weights + model.bias) * model.std + model.mean
    np.testing.assert_allclose(batch, by_hand, rtol=1e-10, atol=1e-10)
    assert model.predict(inputs[5]).shape == (1,)
    np.testing.assert_allclose(model.predict(inputs[5]), batch[5])


def test_forecast_is_recursive() -> None:
    values = kinds()["noisy daily cycle"]
    model = PerceptronForecaster(Hyperparameters(window_size=24)).fit(values[:2000])
    history = list(values[:2000])
    expected = []
    for _ in range(5):
        nxt = float(model.predict(np.array(history[-24:]))[0])
        expected.append(nxt)
        history.append(nxt)
    np.testing.assert_allclose(model.forecast(values[:2000], horizon=5), expected, rtol=1e-12)
    many = model.forecast_windows(np.stack([values[:24], values[24:48]]), horizon=3)
    assert many.shape == (2, 3)
    np.testing.assert_allclose(many[1], model.forecast(values[:48], 3))


def test_training_is_reproducible_and_records_its_history() -> None:
    values = kinds()["random walk"][:1000]
    first = PerceptronForecaster(Hyperparameters(window_size=10, seed=3)).fit(values)
    second = PerceptronForecaster(Hyperparameters(window_size=10, seed=3)).fit(values)
    np.testing.assert_array_equal(first.weights, second.weights)
    assert first.training_samples == len(values) - 10
    assert len(first.loss_history) == first.epochs_trained
    assert first.final_loss == pytest.approx(first.loss_history[-1])
    assert first.loss_history[-1] < first.loss_history[0]
    assert np.all(np.diff(first.loss_history) <= 1e-12), "restarts keep the loss from going up"


def test_progress_is_reported_during_long_training() -> None:
    seen: list[tuple[int, float]] = []
    values = kinds()["random walk with drift"]
    PerceptronForecaster(Hyperparameters(window_size=24)).fit(
        values[:2000], progress=lambda epoch, loss: seen.append((epoch, loss)), progress_every=100
    )
    assert len(seen) >= 2
    assert seen[0][0] == 100
    assert [e for e, _ in seen] == sorted(e for e, _ in seen)


def test_a_constant_series_trains_to_finite_weights_and_predicts_the_constant() -> None:
    model = PerceptronForecaster(Hyperparameters(window_size=4)).fit(np.full(50, 7.5))
    assert np.all(np.isfinite(model.weights))
    np.testing.assert_allclose(model.forecast(np.full(10, 7.5), 3), 7.5, atol=1e-9)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1.0, 2.0, float("nan")] * 20, "NaN or infinite"),
        ([1.0, float("inf")] * 30, "NaN or infinite"),
        (list(range(10)), "too few training points"),
        (["a", "b"] * 30, "must be numbers"),
        (np.ones((10, 10)), "1-D"),
    ],
)
def test_fit_rejects_bad_values_with_a_message(values: object, message: str) -> None:
    with pytest.raises(ForecastInputError, match=message):
        PerceptronForecaster(Hyperparameters(window_size=5)).fit(values)


def test_too_few_points_names_both_numbers() -> None:
    with pytest.raises(ForecastInputError, match=r"needs at least 21 .* got 12"):
        PerceptronForecaster(Hyperparameters(window_size=10)).fit(np.arange(12.0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_size": 0}, "window_size must be an integer >= 1, got 0"),
        ({"window_size": -3}, "window_size must be an integer >= 1"),
        ({"window_size": 2.5}, "window_size must be an integer"),
        ({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
        ({"patience": 0}, "patience must be an integer >= 1"),
        ({"learning_rate": 0.0}, r"learning_rate must be in \(0, 1\]"),
        ({"learning_rate": 2.0}, r"learning_rate must be in \(0, 1\]"),
    ],
)
def test_hyperparameters_are_checked(kwargs: dict, message: str) -> None:
    with pytest.raises(ForecastInputError, match=message):
        Hyperparameters(**kwargs)


@pytest.mark.parametrize("magnitude", [1e300, 1e-300])
def test_extreme_magnitudes_train_to_finite_weights(magnitude: float) -> None:
    values = magnitude * (1.0 + 0.5 * np.sin(np.arange(300.0) / 5.0))
    model = PerceptronForecaster(Hyperparameters(window_size=5)).fit(values)
    assert np.all(np.isfinite(model.weights)) and np.isfinite(model.bias)
    forecast = model.forecast(values, 3)
    assert np.all(np.isfinite(forecast))
    unit = PerceptronForecaster(Hyperparameters(window_size=5)).fit(values / magnitude)
    np.testing.assert_allclose(forecast / magnitude, unit.forecast(values / magnitude, 3), rtol=1e-6)


def test_predict_checks_the_window() -> None:
    model = PerceptronForecaster(Hyperparameters(window_size=6)).fit(np.sin(np.arange(200.0)))
    with pytest.raises(ForecastInputError, match="window_size=6 values, got 5"):
        model.predict(np.ones((3, 5)))
    with pytest.raises(ForecastInputError, match="finite"):
        model.predict([1, 2, 3, float("nan"), 5, 6])
    with pytest.raises(ForecastInputError, match="at least window_size=6 values, got 2"):
        model.forecast([1.0, 2.0])
    with pytest.raises(ForecastInputError, match="horizon must be an integer >= 1"):
        model.forecast(np.ones(6), horizon=0)


def test_an_unfitted_model_says_so() -> None:
    with pytest.raises(ForecastInputError, match="not fitted"):
        PerceptronForecaster().predict(np.ones(24))


def test_a_request_window_as_a_list_forecasts_what_the_vectorised_path_does() -> None:
    """`forecast_last` sums one step with builtins on a list (the shape of a request): the same
    numbers as `forecast_windows` and `bounds`, and still after a refit replaces the weights."""
    from ml.intervals import PredictionIntervals

    rng = np.random.default_rng(3)
    model = PerceptronForecaster(Hyperparameters(window_size=6, epochs=300))
    model.fit(100 + np.cumsum(rng.normal(size=300)))
    model.intervals = PredictionIntervals(0.9, np.array([-1.5, -2.0]), np.array([1.0, 2.5]))
    window = (100 + np.cumsum(rng.normal(size=6))).tolist()
    for _ in range(2):
        for horizon in (1, 3):
            values, lower, upper = model.forecast_last(window, horizon)
            expected = model.forecast_windows(np.array([window]), horizon)
            low, high = model.bounds(expected)
            assert values == pytest.approx(expected[0].tolist(), rel=1e-12)
            assert lower == pytest.approx(low[0].tolist(), rel=1e-12)
            assert upper == pytest.approx(high[0].tolist(), rel=1e-12)
        model.fit(50 - np.cumsum(rng.normal(size=300)))
