"""Live-monitoring statistics, checked against independent computations (plain loops, scipy,
numpy.quantile) and, for the tests' error rates, by simulation over seeded series."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from ml.errors import ForecastInputError
from ml.metrics import point_metrics
from ml.monitoring import (
    diebold_mariano,
    live_metrics,
    match_actuals,
    recalibrate_intervals,
)

T0 = np.datetime64("2024-03-01T00:00:00", "ns")
MINUTE = np.timedelta64(1, "m")


# -- match_actuals -------------------------------------------------------------------------------------


def test_match_actuals_on_a_hand_worked_example() -> None:
    actual_times = T0 + np.array([0, 60, 120, 180, 240]) * MINUTE
    values = np.array([1.0, 2.0, np.nan, 4.0, 5.0])
    targets = np.array([T0 + 3 * MINUTE, T0 + 90 * MINUTE, T0 + 118 * MINUTE, T0 + 245 * MINUTE, T0 - 20 * MINUTE])
    targets = np.concatenate([targets, [np.datetime64("NaT", "ns")]])
    index, matched = match_actuals(targets, actual_times, values, np.timedelta64(30, "m"))
    # 90 min is 30 away from both 60 and 120, but 120 has no value: 60. 118 min: 120 is missing,
    # 60 and 180 are too far. -20 min is 20 from 0. NaT never matches.
    np.testing.assert_array_equal(matched, [True, True, False, True, True, False])
    np.testing.assert_array_equal(index, [0, 1, -1, 4, 0, -1])


def test_match_actuals_breaks_ties_towards_the_earlier_actual() -> None:
    actual_times = T0 + np.array([0, 10]) * MINUTE
    index, matched = match_actuals(np.array([T0 + 5 * MINUTE]), actual_times, np.ones(2), np.timedelta64(5, "m"))
    assert matched[0] and index[0] == 0


def test_match_actuals_agrees_with_a_brute_force_search() -> None:
    rng = np.random.default_rng(3)
    actual_times = np.sort(T0 + rng.integers(0, 10_000, 400) * np.timedelta64(1, "s")).astype("datetime64[s]")
    values = np.where(rng.random(400) < 0.1, np.nan, rng.normal(size=400))
    targets = T0 + rng.integers(-500, 10_500, 300) * np.timedelta64(1, "s")
    tolerance = np.timedelta64(20, "s")
    index, matched = match_actuals(targets, actual_times, values, tolerance)
    usable = np.flatnonzero(np.isfinite(values))
    gaps = np.abs(targets[:, None] - actual_times[usable][None, :].astype("datetime64[ns]"))
    nearest = np.argmin(gaps, axis=1)  # first minimum: the earlier actual on a tie
    expected_matched = gaps[np.arange(len(targets)), nearest] <= tolerance
    np.testing.assert_array_equal(matched, expected_matched)
    np.testing.assert_array_equal(index[matched], usable[nearest[expected_matched]])
    assert np.all(index[~matched] == -1)


def test_match_actuals_edge_cases() -> None:
    targets = np.array([T0])
    index, matched = match_actuals(targets, np.array([], dtype="datetime64[ns]"), np.array([]), MINUTE)
    assert index.tolist() == [-1] and matched.tolist() == [False]
    with pytest.raises(ForecastInputError, match="sorted"):
        match_actuals(targets, T0 + np.array([2, 1]) * MINUTE, np.ones(2), MINUTE)


# -- live_metrics --------------------------------------------------------------------------------------


def test_live_metrics_on_a_hand_worked_example() -> None:
    forecast = np.array([10.0, 10.0, 20.0, 20.0, 5.0])
    actual = np.array([11.0, 8.0, 23.0, 20.0, np.nan])  # the last pair has no actual
    lower = np.array([9.0, 9.0, 18.0, np.nan, 0.0])
    upper = np.array([12.0, 11.0, 22.0, np.nan, 9.0])
    steps = np.array([1, 1, 2, 2, 1])
    metrics = live_metrics(forecast, actual, lower, upper, steps, scale=2.0)
    errors = [1.0, -2.0, 3.0, 0.0]
    assert metrics.n == 4
    assert metrics.mae == pytest.approx(6 / 4)
    assert metrics.rmse == pytest.approx(math.sqrt(14 / 4))
    assert metrics.mase == pytest.approx(6 / 4 / 2.0)
    assert metrics.bias == pytest.approx(sum(errors) / 4)
    assert metrics.coverage == pytest.approx(1 / 3)  # 11 in, 8 out, 23 out; the 4th has no bounds
    assert metrics.per_step[1] == pytest.approx(
        {"n": 2, "mae": 1.5, "rmse": math.sqrt(2.5), "mase": 0.75, "bias": -0.5, "coverage": 0.5}
    )
    assert metrics.per_step[2]["coverage"] == 0.0 and metrics.per_step[2]["bias"] == pytest.approx(1.5)
    assert set(metrics.per_step) == {1, 2}
    encoded = json.loads(json.dumps(metrics.to_dict(), allow_nan=False))
    assert encoded["per_step"]["2"]["n"] == 2


def test_live_metrics_match_point_metrics_per_step() -> None:
    rng = np.random.default_rng(8)
    steps = rng.integers(1, 7, 600)
    forecast = rng.normal(size=600)
    actual = forecast + rng.normal(0, np.sqrt(steps))
    metrics = live_metrics(forecast, actual, forecast - 1.0, forecast + 1.0, steps, scale=None)
    assert metrics.mase is None and metrics.rmse == pytest.approx(point_metrics(actual, forecast)["rmse"])
    for step in range(1, 7):
        chosen = steps == step
        expected = point_metrics(actual[chosen], forecast[chosen])
        figures = metrics.per_step[step]
        assert figures["n"] == chosen.sum()
        assert figures["mae"] == pytest.approx(expected["mae"]) and figures["rmse"] == pytest.approx(expected["rmse"])
        assert figures["coverage"] == pytest.approx(np.mean(np.abs(actual - forecast)[chosen] <= 1.0))
        assert figures["mase"] is None


def test_live_metrics_without_pairs_bounds_or_scale() -> None:
    empty = live_metrics(np.array([]), np.array([]), None, None, np.array([], dtype=int), scale=1.0)
    assert empty.n == 0 and empty.mae is None and empty.per_step == {}
    no_bounds = live_metrics(np.ones(3), np.zeros(3), None, None, np.ones(3, dtype=int), scale=0.0)
    assert no_bounds.coverage is None and no_bounds.mase is None and no_bounds.mae == 1.0
    with pytest.raises(ForecastInputError, match="steps"):
        live_metrics(np.ones(2), np.ones(2), None, None, np.array([0, 1]), scale=1.0)


# -- diebold_mariano -----------------------------------------------------------------------------------


@pytest.mark.parametrize("horizon", [1, 3])
def test_diebold_mariano_against_a_plain_computation(horizon: int) -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(0, 1.2, 40), rng.normal(0, 1.0, 40)
    d = [x * x - y * y for x, y in zip(a, b)]
    n, mean = len(d), sum(d) / len(d)
    gamma = [sum((d[t] - mean) * (d[t - j] - mean) for t in range(j, n)) / n for j in range(horizon)]
    variance = (gamma[0] + 2 * sum(gamma[1:])) / n
    statistic = mean / math.sqrt(variance) * math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    result = diebold_mariano(a, b, horizon=horizon)
    assert result.statistic == pytest.approx(statistic) and result.mean_difference == pytest.approx(mean)
    assert result.p_value == pytest.approx(stats.norm.sf(statistic))
    assert result.p_value_two_sided == pytest.approx(2 * stats.norm.sf(abs(statistic)))
    swapped = diebold_mariano(b, a, horizon=horizon)
    assert swapped.statistic == pytest.approx(-statistic) and swapped.p_value == pytest.approx(1 - result.p_value)
    assert json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("horizon", [1, 3])
def test_diebold_mariano_keeps_its_size_on_equally_good_forecasts(horizon: int) -> None:
    one_sided, two_sided = [], []
    for seed in range(400):
        rng = np.random.default_rng(seed)
        common, own_a, own_b = rng.normal(size=(3, 200 + horizon - 1))
        # h-step errors of forecasts made every step overlap: MA(h-1), sharing the actuals' noise.
        window = np.ones(horizon)
        a = np.convolve(0.6 * common + 0.8 * own_a, window, mode="valid")
        b = np.convolve(0.6 * common + 0.8 * own_b, window, mode="valid")
        result = diebold_mariano(a, b, horizon=horizon)
        one_sided.append(result.p_value)
        two_sided.append(result.p_value_two_sided)
    assert 0.02 <= np.mean(np.array(one_sided) < 0.05) <= 0.08
    assert 0.02 <= np.mean(np.array(two_sided) < 0.05) <= 0.08
    assert np.mean(one_sided) == pytest.approx(0.5, abs=0.05)


def test_diebold_mariano_finds_a_clearly_better_forecaster() -> None:
    rng = np.random.default_rng(7)
    noise = rng.normal(size=300)
    result = diebold_mariano(noise + rng.normal(0, 1.0, 300), noise * 0.9 + rng.normal(0, 0.3, 300))
    assert result.p_value < 1e-6 and result.mean_difference > 0 and result.n == 300
    with pytest.raises(ForecastInputError):
        diebold_mariano(np.ones(3), np.ones(4))
    tie = diebold_mariano(np.ones(5), -np.ones(5))
    assert tie.statistic == 0.0 and tie.p_value == 0.5


# -- recalibrate_intervals -----------------------------------------------------------------------------


def test_recalibrated_offsets_are_the_conformal_order_statistics() -> None:
    rng = np.random.default_rng(9)
    steps = np.r_[np.full(50, 1), np.full(37, 2), np.full(5, 3), np.full(64, 4)]
    errors = rng.normal(0, np.sqrt(steps))
    level = 0.8
    lower, upper = recalibrate_intervals(errors, steps, level, horizon=5, min_per_step=20)
    expected_lower, expected_upper = [], []
    for step in (1, 2, 4):
        e = errors[steps == step]
        n = len(e)
        q = math.ceil((n + 1) * (1 - (1 - level) / 2)) / n
        expected_upper.append(np.quantile(e, q, method="inverted_cdf"))
        expected_lower.append(-np.quantile(-e, q, method="inverted_cdf"))
    # Steps 3 (5 errors) and 5 (none) borrow step 1's offsets times sqrt(h).
    raw_lower = [expected_lower[0], expected_lower[1], expected_lower[0] * math.sqrt(3), expected_lower[2]]
    raw_upper = [expected_upper[0], expected_upper[1], expected_upper[0] * math.sqrt(3), expected_upper[2]]
    raw_lower.append(expected_lower[0] * math.sqrt(5))
    raw_upper.append(expected_upper[0] * math.sqrt(5))
    np.testing.assert_allclose(lower, np.minimum.accumulate(raw_lower))
    np.testing.assert_allclose(upper, np.maximum.accumulate(raw_upper))
    assert recalibrate_intervals(errors, steps, level, horizon=5, min_per_step=51) is None


@pytest.mark.parametrize("n", [20, 50])
def test_recalibration_has_the_finite_sample_coverage_of_split_conformal(n: int) -> None:
    level = 0.9
    rank = math.ceil((n + 1) * (1 - (1 - level) / 2))
    expected = (2 * rank - n - 1) / (n + 1)  # exact for exchangeable errors: at least the level
    covered = []
    for seed in range(500):
        rng = np.random.default_rng(seed)
        lower, upper = recalibrate_intervals(rng.standard_t(4, n), np.ones(n), level, horizon=1)
        fresh = rng.standard_t(4, 200)
        covered.append(np.mean((fresh >= lower[0]) & (fresh <= upper[0])))
    assert expected >= level and np.mean(covered) == pytest.approx(expected, abs=0.01)


def test_recalibration_restores_coverage_after_the_noise_doubles() -> None:
    rng = np.random.default_rng(11)
    level, horizon = 0.9, 3
    steps = np.tile(np.arange(1, horizon + 1), 400)
    holdout = rng.normal(0, np.sqrt(steps))
    old_lower, old_upper = recalibrate_intervals(holdout, steps, level, horizon)
    recent = rng.normal(0, 2 * np.sqrt(steps))
    new_lower, new_upper = recalibrate_intervals(recent, steps, level, horizon)
    fresh = rng.normal(0, 2 * np.sqrt(steps))

    def coverage(lower: np.ndarray, upper: np.ndarray) -> float:
        return float(np.mean((fresh >= lower[steps - 1]) & (fresh <= upper[steps - 1])))

    assert coverage(new_lower, new_upper) == pytest.approx(level, abs=0.03)
    assert coverage(old_lower, old_upper) < level - 0.2
    with pytest.raises(ForecastInputError, match="level"):
        recalibrate_intervals(recent, steps, 1.0, horizon)
