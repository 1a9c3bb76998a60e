import numpy as np
import pytest

from ml import ForecastInputError, Hyperparameters, PerceptronForecaster
from ml.backtest import backtest, backtest_many, backtest_refits, with_intervals
from ml.folds import default_horizon, plan_folds, plan_folds_or_short_blocks
from ml.metrics import point_metrics
from tests.ml.series_factory import ar


def _seasonal(n: int, season: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + 0.1 * t + 4 * np.sin(2 * np.pi * t / season) + ar(rng, n, [0.6], scale=0.7)


def test_folds_are_consecutive_blocks_at_the_end_of_the_values_given() -> None:
    plan = plan_folds(600, season_length=12)
    assert plan.horizon == default_horizon(600, 12) == 24  # 20 % of 600 over 5 folds
    assert plan.origins == (480, 504, 528, 552, 576)
    assert plan.origins[-1] + plan.horizon == 600


@pytest.mark.parametrize(
    ("n", "season", "folds", "horizon"),
    [
        (48, 1, 5, 2),  # a short yearly series keeps five small blocks
        (96, 12, 3, 12),  # eight years of months: one season per block, so fewer folds
        (416, 52, 3, 52),  # eight years of weeks
        (2000, 24, 5, 80),
    ],
)
def test_short_or_strongly_seasonal_series_get_fewer_folds(n: int, season: int, folds: int, horizon: int) -> None:
    plan = plan_folds(n, season)
    assert (plan.folds, plan.horizon) == (folds, horizon)
    assert plan.first_origin >= max(20, 3 * season)
    assert plan.folds * plan.horizon <= 0.4 * n


def test_a_series_too_short_for_one_block_says_how_many_points_it_needs() -> None:
    with pytest.raises(ForecastInputError, match="too few points to backtest: 40 given.*need at least 48"):
        plan_folds(40, season_length=12)
    short = plan_folds(24, season_length=1)
    assert (short.folds, short.horizon, short.first_origin) == (4, 1, 20)
    assert plan_folds_or_short_blocks(40, season_length=12).horizon < 12  # shorter blocks instead
    assert plan_folds_or_short_blocks(600, season_length=12) == plan_folds(600, season_length=12)
    with pytest.raises(ForecastInputError, match="too few points to backtest"):
        plan_folds_or_short_blocks(10, season_length=12)


def test_each_fold_fits_only_on_the_values_before_its_block() -> None:
    values = _seasonal(300)
    seen: list[np.ndarray] = []

    def fit(train: np.ndarray) -> PerceptronForecaster:
        seen.append(train.copy())
        return PerceptronForecaster(Hyperparameters(window_size=4)).fit(train)

    plan = plan_folds(len(values), 12)
    backtest(fit, values, plan, season_length=12)
    assert [len(train) for train in seen] == list(plan.origins)
    for train in seen:
        np.testing.assert_array_equal(train, values[: len(train)])


def test_poisoning_the_values_after_a_block_changes_nothing_before_it() -> None:
    values = _seasonal(360)
    hp = Hyperparameters(window_size=3, differencing="first")
    plan = plan_folds(len(values), 12)
    clean = backtest(hp, values, plan, season_length=12)
    cut = plan.origins[2] + plan.horizon
    poisoned = values.copy()
    poisoned[cut:] = 1e6
    dirty = backtest(hp, poisoned, plan, season_length=12)
    for fold in range(3):
        assert dirty.folds[fold] == clean.folds[fold]
    assert dirty.folds[3]["rmse"] > 100 * clean.folds[3]["rmse"]


def test_fold_metrics_and_baselines_are_those_of_the_block() -> None:
    values = _seasonal(300)
    hp = Hyperparameters(window_size=6)
    plan = plan_folds(len(values), 12)
    result = backtest(hp, values, plan, season_length=12)
    origin = plan.origins[1]
    block = values[origin : origin + plan.horizon]
    model = PerceptronForecaster(hp).fit(values[:origin])
    inputs = np.lib.stride_tricks.sliding_window_view(values[origin - 6 : origin + plan.horizon - 1], 6)
    fold = result.folds[1]
    assert fold["rmse"] == pytest.approx(point_metrics(block, model.predict(inputs))["rmse"])
    assert fold["naive_mae"] == pytest.approx(np.mean(np.abs(block - values[origin - 1 : origin + plan.horizon - 1])))
    assert fold["seasonal_naive_rmse"] == pytest.approx(
        point_metrics(block, values[origin - 12 : origin + plan.horizon - 12])["rmse"]
    )
    rmses = [f["rmse"] for f in result.folds]
    assert result.rmse == pytest.approx(np.mean(rmses)) and result.rmse_std == pytest.approx(np.std(rmses))
    assert result.rmse < result.summary["naive_rmse_mean"]
    assert len(result.predicted) == len(result.actual) == plan.folds * plan.horizon


def test_multi_step_metrics_come_from_every_origin_of_every_block() -> None:
    values = _seasonal(300)
    hp = Hyperparameters(window_size=6)
    plan = plan_folds(len(values), 12)
    result = backtest(hp, values, plan, season_length=12, max_steps=5)
    assert set(result.steps) == {"mae", "rmse", "count"}
    np.testing.assert_array_equal(result.steps["count"], [plan.folds * (plan.horizon - h) for h in range(5)])
    assert result.steps["rmse"][0] == pytest.approx(np.sqrt(np.mean((result.predicted - result.actual) ** 2)))
    # Step 3 from the first origin of the last block, by hand.
    origin = plan.origins[-1]
    model = PerceptronForecaster(hp).fit(values[:origin])
    errors = []
    for fold_origin in plan.origins:
        fold_model = PerceptronForecaster(hp).fit(values[:fold_origin])
        for start in range(fold_origin, fold_origin + plan.horizon - 2):
            errors.append(values[start + 2] - fold_model.forecast(values[:start], 3)[2])
    assert result.steps["mae"][2] == pytest.approx(np.mean(np.abs(errors)))
    assert result.steps["rmse"][4] > result.steps["rmse"][0]
    assert model.window_size == 6


def test_interval_coverage_per_step_for_a_model_with_intervals() -> None:
    rng = np.random.default_rng(11)
    values = 10 + ar(rng, 3000, [0.7, 0.2], scale=1.0)
    result = backtest(with_intervals(Hyperparameters(window_size=8), level=0.8), values, season_length=1, max_steps=4)
    coverage = result.steps["coverage"]
    assert coverage.shape == (4,)
    assert np.all(np.abs(coverage - 0.8) < 0.07)


def test_backtest_many_matches_one_by_one() -> None:
    values = _seasonal(300)
    hps = [Hyperparameters(window_size=2, differencing="first"), Hyperparameters(window_size=12)]
    plan = plan_folds(len(values), 12)
    together = backtest_many(hps, values, plan, 12)
    for hp, result in zip(hps, together):
        alone = backtest(hp, values, plan, 12)
        assert result.rmse == pytest.approx(alone.rmse, rel=1e-5)
        assert result.fit_seconds >= 0


STRUCTURES = [
    Hyperparameters(window_size=12),
    Hyperparameters(window_size=3, differencing="first"),
    Hyperparameters(window_size=2, differencing="second"),
    Hyperparameters(window_size=2, differencing="seasonal", season_length=12),
    Hyperparameters(window_size=1, differencing="both", season_length=12, seasonal_lags=2),
    Hyperparameters(window_size=3, seasonal_lags=2, season_length=12),
    Hyperparameters(window_size=2, differencing="first", calendar_period=365.2425 * 86400, calendar_harmonics=3),
]


def test_exact_one_step_scores_of_all_folds_at_once_equal_a_unit_fitted_per_fold() -> None:
    values = _seasonal(400, seed=5)
    times = 1.6e9 + 30.4375 * 86400 * np.arange(len(values))
    plan = plan_folds(len(values), 12)
    batched = backtest_many(STRUCTURES, values, plan, 12, max_steps=1, solver="exact", times=times)
    for hp, result in zip(STRUCTURES, batched, strict=True):
        # max_steps=2 takes the general path: one exactly solved unit per fold, forecasting raw windows.
        alone = backtest_many([hp], values, plan, 12, max_steps=2, solver="exact", times=times)[0]
        np.testing.assert_allclose(result.predicted, alone.predicted, rtol=1e-9)
        np.testing.assert_array_equal(result.actual, alone.actual)
        assert result.summary.keys() == alone.summary.keys()
        for name, value in alone.summary.items():
            assert result.summary[name] == pytest.approx(value, rel=1e-9), name
        assert [fold.keys() for fold in result.folds] == [fold.keys() for fold in alone.folds]
        assert result.steps["rmse"][0] == pytest.approx(alone.steps["rmse"][0], rel=1e-9)
        assert result.steps["count"][0] == alone.steps["count"][0] == plan.folds * plan.horizon


def test_exact_one_step_scores_take_the_minimum_norm_optimum_when_inputs_are_collinear() -> None:
    season = np.sin(2 * np.pi * np.arange(12) / 12)
    values = 5.0 + np.tile(season, 30)  # seasonal differences are all zero: a singular problem
    values[-30:] += np.linspace(0.0, 1.0, 30)  # the last blocks break the pattern
    hp = Hyperparameters(window_size=2, differencing="seasonal", season_length=12)
    plan = plan_folds(len(values), 12)
    fast = backtest_many([hp], values, plan, 12, max_steps=1, solver="exact")[0]
    general = backtest_many([hp], values, plan, 12, max_steps=2, solver="exact")[0]
    assert np.all(np.isfinite(fast.predicted))
    np.testing.assert_allclose(fast.predicted, general.predicted, rtol=1e-9, atol=1e-9)
    assert fast.folds[0]["rmse"] == pytest.approx(0.0, abs=1e-9)


def test_a_candidate_too_large_for_the_first_fold_says_so() -> None:
    values = _seasonal(60)
    plan = plan_folds(len(values), 1)
    with pytest.raises(ForecastInputError, match="too few training points: w24 d=none needs at least 49"):
        backtest_many([Hyperparameters(window_size=24)], values, plan, 1, max_steps=1, solver="exact")


def test_a_plan_for_another_series_is_rejected() -> None:
    with pytest.raises(ForecastInputError, match="the fold plan is for 200 points"):
        backtest(Hyperparameters(window_size=2), _seasonal(300), plan_folds(200, 12), 12)


def test_fitted_models_are_backtested_by_their_recipe_on_the_same_folds() -> None:
    values = _seasonal(300)
    plan = plan_folds(len(values), 12)
    hps = [Hyperparameters(window_size=12), Hyperparameters(window_size=1, differencing="seasonal", season_length=12)]
    fitted = [PerceptronForecaster(hp).fit(values) for hp in hps]  # fitted on everything: only the recipe counts
    refitted = backtest_refits(fitted, values, plan, 12)
    for hp, result in zip(hps, refitted):
        assert result.plan == plan and len(result.folds) == plan.folds
        assert result.rmse == pytest.approx(backtest(hp, values, plan, 12).rmse, rel=1e-6)
    assert refitted[0].rmse != pytest.approx(refitted[1].rmse, rel=1e-3)
