import json

import numpy as np
import pytest

from ml import ForecastInputError, Hyperparameters, model_format
from ml.baselines import candidate_seasons
from ml.candidates import candidate_grid, fixed_window
from ml.evaluation import holdout_predictions
from ml.folds import plan_folds
from ml.selection import MIN_POINTS, score_candidate, select
from tests.ml.series_factory import airline, ar

HOUR, DAY = 3600.0, 86_400.0


def _monthly(n: int = 240, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 200 + 0.8 * t + 12 * np.sin(2 * np.pi * t / 12) + ar(rng, n, [0.5], scale=2.0)


@pytest.mark.parametrize(
    ("step", "n", "seasons"),
    [
        (HOUR, 6 * 168 - 1, [24]),
        (HOUR, 6 * 168, [24, 168]),
        (1800.0, 2000, [48]),
        (DAY, 1000, [7]),
        (7 * DAY, 500, [52]),
        (30 * DAY, 200, [12]),
        (91 * DAY, 120, [4]),
        (365 * DAY, 60, []),
    ],
)
def test_seasons_follow_the_sampling_step_and_the_length(step: float, n: int, seasons: list[int]) -> None:
    assert candidate_seasons(step, n) == seasons
    grid = candidate_grid(step, n, max_candidates=1000)
    used = {hp.season_length for hp in grid if hp.differencing in ("seasonal", "both") or hp.seasonal_lags}
    assert used == set(seasons)


def test_the_grid_starts_with_the_default_window_and_fits_the_data() -> None:
    grid = candidate_grid(30 * DAY, 150, max_candidates=1000)
    assert grid[0] == Hyperparameters(window_size=24)
    assert {hp.differencing for hp in grid} == {"none", "first", "second", "seasonal", "both"}
    assert all(150 - hp.effective_window >= 3 * hp.parameters for hp in grid[1:])
    assert len(set(grid)) == len(grid)
    yearly = candidate_grid(365 * DAY, 40, max_candidates=1000)
    assert yearly[0].window_size == fixed_window(40) == 19
    assert {hp.differencing for hp in yearly} == {"none", "first", "second"}
    assert max(hp.window_size for hp in yearly[1:]) <= 8
    assert len(candidate_grid(30 * DAY, 150, max_candidates=7)) == 7


def test_score_candidate_returns_what_a_child_run_logs() -> None:
    values = _monthly()
    plan = plan_folds(len(values), 12)
    hp = Hyperparameters(window_size=2, differencing="both", season_length=12)
    score = score_candidate(hp, values, plan, 12)
    assert score.params["differencing"] == "both" and score.params["effective_window"] == 15
    metrics = score.metrics
    assert metrics["backtest_rmse_mean"] == pytest.approx(score.rmse)
    assert metrics["backtest_rmse_std"] == pytest.approx(score.rmse_std)
    assert {f"fold_{i}_rmse" for i in range(1, plan.folds + 1)} <= set(metrics)
    assert metrics["step_1_rmse"] == pytest.approx(
        np.sqrt(np.mean((score.backtest.predicted - score.backtest.actual) ** 2))
    )
    assert f"step_{plan.horizon}_mae" in metrics
    assert metrics["fit_seconds"] >= 0
    assert score_candidate(hp, values, plan, 12).metrics["backtest_rmse_mean"] == metrics["backtest_rmse_mean"]


def test_selection_beats_the_default_window_where_trend_and_season_wander() -> None:
    values = airline(np.random.default_rng(3), 240)
    start = 192
    selection = select(values[:start], 30 * DAY)
    fixed = select(values[:start], 30 * DAY, max_candidates=1)
    assert fixed.strategy == "ensemble" and len(fixed.candidates) == 1

    def rmse(model) -> float:
        return float(np.sqrt(np.mean((holdout_predictions(model, values, start) - values[start:]) ** 2)))

    assert rmse(selection.model) < 0.85 * rmse(fixed.model)
    assert any(m.hyperparameters.differencing != "none" for m in selection.members)
    report = selection.report()
    json.dumps(report)
    assert report["strategy"] == selection.strategy in ("ensemble", "best", "default")
    assert sum(member["weight"] for member in report["members"]) == pytest.approx(1.0)
    assert set(report["strategy_rmse"]) == {"ensemble", "best", "default"}
    assert selection.model.window_size == max(m.hyperparameters.effective_window for m in selection.members)


def test_selection_is_deterministic_and_serialisable() -> None:
    values = _monthly(200, seed=2)
    first = select(values, 30 * DAY, seed=3, max_candidates=12)
    second = select(values, 30 * DAY, seed=3, max_candidates=12)
    np.testing.assert_array_equal(first.model.weights, second.model.weights)
    assert first.model.bias == second.model.bias
    loaded = model_format.loads(model_format.dumps(first.model))
    assert [m.backtest_rmse for m in loaded.structure] == pytest.approx([m.rmse for m in first.members])
    np.testing.assert_array_equal(loaded.forecast(values, 6), first.model.forecast(values, 6))


def test_selection_never_sees_the_holdout() -> None:
    values = _monthly(260, seed=9)
    start = 208
    other = values.copy()
    other[start:] = other[start:][::-1] * 3 + 50
    a = select(values[:start], 30 * DAY, max_candidates=12)
    b = select(other[:start], 30 * DAY, max_candidates=12)
    np.testing.assert_array_equal(a.model.weights, b.model.weights)
    assert [m.hyperparameters for m in a.members] == [m.hyperparameters for m in b.members]


def test_the_time_budget_and_the_candidate_cap_bound_the_search() -> None:
    values = _monthly(240, seed=1)
    capped = select(values, 30 * DAY, max_candidates=5)
    assert capped.grid_size == len(capped.candidates) == 5
    rushed = select(values, 30 * DAY, time_budget=0.0)
    assert 0 < len(rushed.candidates) < rushed.grid_size
    assert "time budget left" in rushed.reason
    assert rushed.model.is_fitted


def test_a_series_too_short_for_folds_of_its_season_is_backtested_on_shorter_blocks() -> None:
    """Two days of hourly readings (a new sensor) cannot hold three days of training and a day's
    block; the candidates that fit shorter blocks compete instead of a default window fitted on
    almost as many windows as it has weights."""
    ratios = []
    for seed in range(5):
        values = 10 + 3 * np.sin(2 * np.pi * np.arange(60) / 24) + ar(np.random.default_rng(seed), 60, [0.7], 0.5)
        selection = select(values[:48], HOUR)
        assert selection.plan is not None and selection.plan.horizon < 24 and len(selection.candidates) > 10
        predicted = holdout_predictions(selection.model, values, 48)
        ratios.append(np.sqrt(np.mean((predicted - values[48:]) ** 2) / np.mean((values[47:-1] - values[48:]) ** 2)))
    assert np.exp(np.mean(np.log(ratios))) < 0.9  # against the naive forecast; the default window was ~4 times it


def test_a_series_too_short_to_backtest_gets_a_unit_on_differences_it_can_estimate() -> None:
    """On 15 points a unit on the raw level extrapolates off any level it has not seen; one on
    first differences stays near the naive forecast, and beats it where the series drifts."""
    ratios = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        values = 50 + np.cumsum(rng.normal(1.0, 1.0, 25)) + ar(rng, 25, [0.5], 0.5)
        selection = select(values[:15], 30 * DAY)
        assert selection.strategy == "default" and selection.plan is None
        assert "too few points to backtest" in selection.reason
        hp = selection.model.hyperparameters
        assert hp.differencing == "first" and hp.window_size == fixed_window(14, samples_per_parameter=3) == 2
        predicted = holdout_predictions(selection.model, values, 15)
        ratios.append(np.sqrt(np.mean((predicted - values[15:]) ** 2) / np.mean((values[14:-1] - values[15:]) ** 2)))
    assert np.exp(np.mean(np.log(ratios))) < 0.9 and max(ratios) < 2.0  # a raw window: 1.06, worst 1.67
    assert select(np.arange(MIN_POINTS, dtype=float), DAY).model.is_fitted
    with pytest.raises(ForecastInputError, match=f"too few points to tune: {MIN_POINTS - 1} training points"):
        select(np.arange(MIN_POINTS - 1, dtype=float), DAY)


def test_a_short_yearly_series_still_selects() -> None:
    rng = np.random.default_rng(4)
    values = 3.5 - 0.03 * np.arange(50) + np.cumsum(rng.normal(0, 0.05, 50))
    selection = select(values[:42], 365 * DAY)
    assert selection.plan is not None and selection.plan.folds >= 3
    assert selection.model.window_size <= 10
    forecast = selection.model.forecast(values[:42], 8)
    assert np.all(np.abs(forecast - values[42:]) < 1.0)


def test_the_exact_search_picks_what_the_descent_search_picks() -> None:
    values = airline(np.random.default_rng(3), 200)
    exact = select(values, 30 * DAY, max_candidates=14)
    descent = select(values, 30 * DAY, max_candidates=14, search_solver="descent")
    assert [m.hyperparameters for m in exact.members] == [m.hyperparameters for m in descent.members]
    for fast, slow in zip(exact.candidates, descent.candidates):
        assert fast.rmse == pytest.approx(slow.rmse, rel=0.02)
    assert exact.model.epochs_trained > 0, "the served model is trained by the descent"


def test_candidates_scored_one_by_one_can_be_chosen_from() -> None:
    from ml.selection import choose, score_candidates

    values = airline(np.random.default_rng(3), 200)
    plan = plan_folds(len(values), 12)
    grid = candidate_grid(30 * DAY, plan.first_origin, max_candidates=10)
    one_by_one = [score_candidate(hp, values, plan, 12, solver="exact") for hp in grid]
    chosen = choose(one_by_one, values, season_length=12)
    together = select(values, 30 * DAY, max_candidates=10)
    assert [m.hyperparameters for m in chosen.members] == [m.hyperparameters for m in together.members]
    np.testing.assert_allclose(chosen.model.weights, together.model.weights)
    with pytest.raises(ForecastInputError, match="scored on 200 points"):
        choose(one_by_one, values[:150])
    other = score_candidates(grid[:1], values, plan_folds(len(values), 12, folds=3))
    with pytest.raises(ForecastInputError, match="same folds"):
        choose([*one_by_one, *other], values)
