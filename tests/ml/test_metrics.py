import numpy as np
import pytest

from ml import Hyperparameters, PerceptronForecaster, evaluate
from ml.baselines import infer_season_length, naive, seasonal_naive
from ml.metrics import mase, naive_scale, point_metrics


def test_point_metrics_on_a_hand_worked_example() -> None:
    metrics = point_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.0, 1.0, 4.0]))
    assert metrics["mae"] == pytest.approx((1 + 0 + 2 + 0) / 4)
    assert metrics["mse"] == pytest.approx((1 + 0 + 4 + 0) / 4)
    assert metrics["rmse"] == pytest.approx(np.sqrt(5 / 4))


def test_mase_scales_by_the_in_sample_naive_error() -> None:
    train = np.array([1.0, 3.0, 2.0, 6.0])  # naive errors 2, 1, 4 -> 7/3
    assert naive_scale(train) == pytest.approx(7 / 3)
    assert naive_scale(train, season_length=2) == pytest.approx((1 + 3) / 2)
    assert mase(7 / 3, naive_scale(train)) == pytest.approx(1.0)
    assert np.isnan(mase(1.0, naive_scale(np.ones(5))))


def test_baselines_use_only_past_values() -> None:
    values = np.arange(10.0)
    np.testing.assert_array_equal(naive(values, 7), [6.0, 7.0, 8.0])
    np.testing.assert_array_equal(seasonal_naive(values, 7, 3), [4.0, 5.0, 6.0])
    with pytest.raises(ValueError):
        seasonal_naive(values, 2, 3)


@pytest.mark.parametrize(
    ("step", "season"),
    [(3600, 24), (900, 96), (60, 1440), (86400, 7), (7 * 86400, 52), (30 * 86400, 12), (7000, 1), (float("nan"), 1)],
)
def test_season_length_follows_the_sampling_step(step: float, season: int) -> None:
    assert infer_season_length(step) == season


def test_evaluate_scores_model_and_baselines_on_the_same_holdout() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(600)
    values = 10 + 3 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.2, len(t))
    model = PerceptronForecaster(Hyperparameters(window_size=24)).fit(values[:500])
    metrics = evaluate(model, values, 500, season_length=24)
    expected = point_metrics(values[500:], values[499:-1])
    assert metrics["naive_rmse"] == pytest.approx(expected["rmse"])
    assert metrics["seasonal_naive_mae"] == pytest.approx(np.mean(np.abs(values[500:] - values[476:-24])))
    assert metrics["rmse"] < metrics["seasonal_naive_rmse"] < metrics["naive_rmse"]
    assert metrics["mase"] < 1.0
    assert "seasonal_naive_rmse" not in evaluate(model, values, 500, season_length=1)
