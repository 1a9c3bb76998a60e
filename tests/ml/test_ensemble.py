import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from ml import ForecastInputError, Hyperparameters, PerceptronForecaster
from ml.ensemble import combine, in_sample_loss, refit
from tests.ml.series_factory import ar


@pytest.fixture(scope="module")
def members() -> tuple[np.ndarray, list[PerceptronForecaster]]:
    rng = np.random.default_rng(7)
    t = np.arange(500)
    values = 1e4 + 0.1 * t + 3 * np.sin(2 * np.pi * t / 7) + ar(rng, 500, [0.5], scale=0.3)
    hps = [
        Hyperparameters(window_size=9),
        Hyperparameters(window_size=2, differencing="first"),
        Hyperparameters(window_size=1, differencing="both", season_length=7, seasonal_lags=2),
    ]
    return values, [PerceptronForecaster(hp).fit(values[:400]) for hp in hps]


def test_the_combined_unit_predicts_the_weighted_average_of_its_members(members) -> None:
    values, models = members
    weights = [0.5, 0.3, 0.2]
    combined = combine(models, weights)
    assert combined.window_size == max(m.window_size for m in models) == 22
    inputs = sliding_window_view(values, combined.window_size)[-60:]
    expected = sum(w * m.predict(inputs[:, -m.window_size :]) for m, w in zip(models, weights))
    np.testing.assert_allclose(combined.predict(inputs), expected, rtol=1e-12)
    assert not np.allclose(combined.predict(inputs), models[0].predict(inputs[:, -9:]))


def test_weights_are_normalised_and_the_structure_is_recorded(members) -> None:
    _, models = members
    combined = combine(models, [2.0, 1.0, 1.0])
    assert [m.weight for m in combined.structure] == pytest.approx([0.5, 0.25, 0.25])
    assert [m.differencing for m in combined.structure] == ["none", "first", "both"]
    nested = combine([combined, models[0]])
    assert [m.weight for m in nested.structure] == pytest.approx([0.25, 0.125, 0.125, 0.5])
    assert sum(m.weight for m in nested.structure) == pytest.approx(1.0)


def test_a_combination_of_one_is_the_model_itself(members) -> None:
    values, models = members
    single = combine([models[1]])
    inputs = sliding_window_view(values, models[1].window_size)[-40:]
    np.testing.assert_allclose(single.predict(inputs), models[1].predict(inputs), rtol=1e-12)
    np.testing.assert_allclose(single.forecast(values, 6), models[1].forecast(values, 6), rtol=1e-12)


def test_final_loss_is_the_in_sample_error_when_values_are_given(members) -> None:
    values, models = members
    assert np.isnan(combine(models).final_loss)
    combined = combine(models, values=values[:400])
    assert combined.final_loss == pytest.approx(in_sample_loss(combined, values[:400]))
    assert 0 < combined.final_loss < 1


@pytest.mark.parametrize("weights", [[1.0, -1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 2.0], [1.0, float("nan"), 1.0]])
def test_bad_weights_are_rejected(members, weights) -> None:
    with pytest.raises(ForecastInputError, match="weights"):
        combine(members[1], weights)


def test_combine_needs_fitted_models() -> None:
    with pytest.raises(ForecastInputError):
        combine([])
    with pytest.raises(ForecastInputError, match="not fitted"):
        combine([PerceptronForecaster()])


def test_a_member_weighted_zero_is_left_out(members) -> None:
    values, models = members
    combined = combine(models, [1.0, 1.0, 0.0])
    assert combined.window_size == 9 and len(combined.structure) == 2
    inputs = np.lib.stride_tricks.sliding_window_view(values, 9)[-5:]
    np.testing.assert_allclose(
        combined.predict(inputs), 0.5 * models[0].predict(inputs) + 0.5 * models[1].predict(inputs[:, -3:])
    )


def test_refit_rebuilds_the_recipe_on_new_data(members) -> None:
    values, models = members
    combined = combine(models, [0.5, 0.3, 0.2])
    (again,) = refit(combined, [values[:400]])  # the same data: the same unit
    assert [(m.window_size, m.differencing, m.weight) for m in again.structure] == [
        (m.window_size, m.differencing, m.weight) for m in combined.structure
    ]
    np.testing.assert_allclose(again.weights, combined.weights, rtol=1e-6, atol=1e-9)
    shorter, longer = refit(combined, [values[:300], values[:450]])  # other data: other weights
    assert shorter.window_size == longer.window_size == combined.window_size
    assert not np.allclose(shorter.weights, longer.weights)
    (single,) = refit(models[0], [values[:400]])
    assert single.members == models[0].structure and np.allclose(single.weights, models[0].weights, rtol=1e-6)
