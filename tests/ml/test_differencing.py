"""A unit trained on a differenced series is served as the equivalent unit on a longer raw window."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from ml import ForecastInputError, Hyperparameters, PerceptronForecaster
from ml import differencing as diff
from ml.forecaster import fit_many
from tests.ml.series_factory import ar

SEASON = 12


def _seasonal_trend(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 50 + 0.2 * t + 5 * np.sin(2 * np.pi * t / SEASON) + ar(rng, n, [0.6], scale=0.5)


def _unit_on_transformed(model: PerceptronForecaster, hp: Hyperparameters, train: np.ndarray):
    """The same fit, read back as the unit on the differenced series: (lags, weights by lag, intercept)."""
    transformed = diff.difference(train, hp.differencing, hp.season_length)
    twin = PerceptronForecaster(
        Hyperparameters(
            window_size=hp.window_size, season_length=hp.season_length, seasonal_lags=hp.seasonal_lags, seed=hp.seed
        )
    ).fit(transformed)
    return twin, transformed


def _recursive_by_inverse_transform(twin: PerceptronForecaster, history: np.ndarray, hp: Hyperparameters, horizon: int):
    """Forecast the differenced series recursively with `twin`, undoing the differencing step by step."""
    phi = diff.polynomial(hp.differencing, hp.season_length)
    k = len(phi) - 1
    raw = list(history)
    for _ in range(horizon):
        series = np.array(raw)
        transformed = diff.difference(series, hp.differencing, hp.season_length)
        d_next = float(twin.forecast(transformed, 1)[0])
        # d_t = sum_i phi_i y_{t-i}  =>  y_t = d_t - sum_{i>=1} phi_i y_{t-i}
        raw.append(d_next - float(np.dot(phi[1:], series[::-1][:k])))
    return np.array(raw[len(history) :])


@pytest.mark.parametrize(
    ("differencing", "window", "lags"),
    [("none", 3, 2), ("first", 4, 0), ("second", 3, 0), ("seasonal", 3, 0), ("both", 2, 0), ("both", 2, 2)],
)
def test_differenced_unit_equals_its_raw_window_unit(differencing: str, window: int, lags: int) -> None:
    values = _seasonal_trend()
    hp = Hyperparameters(window_size=window, differencing=differencing, season_length=SEASON, seasonal_lags=lags)
    model = PerceptronForecaster(hp).fit(values[:300])
    assert model.window_size == hp.effective_window == diff.effective_window(window, differencing, SEASON, lags)
    twin, _ = _unit_on_transformed(model, hp, values[:300])
    # One step: the raw unit on its effective window against the differenced unit plus the inverse transform.
    w = model.window_size
    raw_windows = sliding_window_view(values[250 - w : 350], w)[:-1]
    targets_start = 250
    expected = []
    for end in range(targets_start, 350):
        expected.append(_recursive_by_inverse_transform(twin, values[:end], hp, 1)[0])
    np.testing.assert_allclose(model.predict(raw_windows), expected, rtol=1e-9, atol=1e-9)
    # Recursive multi-step from a few origins.
    for end in (260, 300, 333):
        np.testing.assert_allclose(
            model.forecast(values[:end], 15),
            _recursive_by_inverse_transform(twin, values[:end], hp, 15),
            rtol=1e-9,
            atol=1e-8,
        )


def test_the_plain_unit_is_unchanged_by_the_new_options() -> None:
    values = ar(np.random.default_rng(1), 500, [0.5, 0.3])
    old_style = PerceptronForecaster(
        Hyperparameters(window_size=6, epochs=10_000, learning_rate=1.0, patience=100)
    ).fit(values)
    explicit = PerceptronForecaster(Hyperparameters(window_size=6, differencing="none", season_length=1)).fit(values)
    np.testing.assert_array_equal(old_style.weights, explicit.weights)
    assert old_style.window_size == 6 and len(old_style.weights) == 6
    assert old_style.structure[0].differencing == "none"


def test_differencing_helps_where_the_series_has_a_trend_and_a_season() -> None:
    values = _seasonal_trend(600, seed=4)
    plain = PerceptronForecaster(Hyperparameters(window_size=3)).fit(values[:500])
    both = PerceptronForecaster(Hyperparameters(window_size=3, differencing="both", season_length=SEASON)).fit(
        values[:500]
    )
    inputs = sliding_window_view(values, 20)[480:-1]

    def rmse(model: PerceptronForecaster) -> float:
        return float(np.sqrt(np.mean((model.predict(inputs[:, -model.window_size :]) - values[500:]) ** 2)))

    assert rmse(both) < 0.9 * rmse(plain)


def test_fit_many_gives_each_unit_what_it_would_get_alone() -> None:
    values = _seasonal_trend(300, seed=2)
    hps = [
        Hyperparameters(window_size=4),
        Hyperparameters(window_size=2, differencing="first"),
        Hyperparameters(window_size=1, differencing="both", season_length=SEASON, seasonal_lags=2),
    ]
    series = [values[:200], values[:250], values]
    batch = fit_many(hps, series)
    for hp, train, fitted in zip(hps, series, batch):
        alone = PerceptronForecaster(hp).fit(train)
        probe = sliding_window_view(values, alone.window_size)[-30:]
        np.testing.assert_allclose(fitted.predict(probe), alone.predict(probe), rtol=1e-6, atol=1e-6)
        assert abs(fitted.epochs_trained - alone.epochs_trained) <= 0.05 * alone.epochs_trained + 2


def test_input_lags_and_orders() -> None:
    np.testing.assert_array_equal(diff.input_lags(3, 12, 2), [1, 2, 3, 12, 24])
    np.testing.assert_array_equal(diff.input_lags(13, 12, 2), list(range(1, 14)) + [24])
    assert diff.order("both", 12) == 13 and diff.order("second", 7) == 2 and diff.order("none", 12) == 0
    np.testing.assert_array_equal(diff.difference(np.array([1.0, 4.0, 9.0, 16.0]), "second", 1), [2.0, 2.0])
    assert Hyperparameters(window_size=3, differencing="both", season_length=12, seasonal_lags=2).effective_window == 37


def test_too_few_points_for_a_differenced_unit_names_it() -> None:
    hp = Hyperparameters(window_size=3, differencing="seasonal", season_length=12)
    with pytest.raises(ForecastInputError, match=r"window_size=3 \(w3 d=seasonal s=12\) needs at least 19"):
        PerceptronForecaster(hp).fit(np.arange(18.0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"differencing": "twice"}, "differencing must be one of"),
        ({"differencing": "seasonal"}, "needs season_length >= 2"),
        ({"seasonal_lags": 2}, "needs season_length >= 2"),
        ({"season_length": 0}, "season_length must be an integer >= 1"),
        ({"seasonal_lags": -1, "season_length": 4}, "seasonal_lags must be an integer >= 0"),
    ],
)
def test_structure_options_are_checked(kwargs: dict, message: str) -> None:
    with pytest.raises(ForecastInputError, match=message):
        Hyperparameters(window_size=3, **kwargs)
