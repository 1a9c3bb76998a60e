"""Live-monitoring statistics, checked against independent computations (plain loops, scipy,
numpy.quantile) and, for the tests' error rates, by simulation over seeded series."""

import json
import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from ml.errors import ForecastInputError
from ml.metrics import point_metrics
from ml.monitoring import (
    cusum_drift,
    cusum_statistic,
    diebold_mariano,
    distribution_drift,
    kolmogorov_sf,
    ks_statistic,
    live_metrics,
    match_actuals,
    population_stability_index,
    recalibrate_intervals,
)
from tests.ml.series_factory import ar

T0 = np.datetime64("2024-03-01T00:00:00", "ns")
MINUTE = np.timedelta64(1, "m")
SIMULATIONS = 200


def _ar1_unit_variance(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """AR(1) with marginal variance 1: what a holdout's RMSE would measure as σ = 1."""
    return ar(rng, n + 100, [phi], scale=math.sqrt(1.0 - phi * phi))[100:]


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


# -- cusum_drift ---------------------------------------------------------------------------------------


def _loop_cusum(errors: np.ndarray, sigma: float, k: float, h: float, cap: float, min_count: int) -> tuple:
    s, path, alarm = 0.0, [], None
    for t, e in enumerate(errors):
        s = max(0.0, s + min(e * e / (sigma * sigma), cap) - 1.0 - k)
        path.append(s)
        if alarm is None and t >= min_count - 1 and s > h:
            alarm = t
    return np.array(path), alarm


@pytest.mark.parametrize("seed", range(5))
def test_cusum_agrees_with_a_plain_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    increments = rng.normal(size=60)
    reference = [0.0]
    for value in increments:
        reference.append(max(0.0, reference[-1] + value))
    np.testing.assert_allclose(cusum_statistic(increments), reference[1:])
    errors = rng.normal(0, 1.5, 80) * np.r_[np.ones(40), np.full(40, 2.5)]
    for k, h, cap, min_count in [(0.5, 8.0, np.inf, 20), (0.75, 10.0, 9.0, 1), (0.5, 5.0, 4.0, 60), (1.0, 1e9, 9.0, 1)]:
        result = cusum_drift(errors, 1.5, k=k, h=h, cap=cap, min_count=min_count)
        path, alarm = _loop_cusum(errors, 1.5, k, h, cap, min_count)
        assert result.index == alarm and result.detected == (alarm is not None)
        assert result.statistic == pytest.approx(path[alarm] if alarm is not None else path[-1])


def test_cusum_skips_missing_errors_and_reports_positions_in_the_array_given() -> None:
    errors = np.r_[np.zeros(30), np.full(10, 4.0)]
    with_holes = np.insert(errors, [5, 5, 32], np.nan)  # two holes before the rise, one in it
    clean, holed = cusum_drift(errors, 1.0), cusum_drift(with_holes, 1.0)
    assert clean.detected and holed.detected and holed.n == clean.n == 40
    # Each 4σ error adds min(16, 9) - 1 - 0.75 = 7.25: the fourth (index 33) passes 26.
    assert clean.index == 33 and clean.evidence()["change_index"] == 30
    assert holed.index == 36 and holed.evidence()["change_index"] == 32
    json.dumps(holed.evidence(), allow_nan=False)
    with pytest.raises(ForecastInputError):
        cusum_drift(errors, 0.0)


def _alarm_rate(make_errors: Callable[[np.random.Generator], np.ndarray], **kwargs: float) -> float:
    """Share of seeded error series on which the CUSUM (σ = 2.5) raises an alarm."""
    rng = np.random.default_rng
    alarms = [cusum_drift(make_errors(rng(seed)), 2.5, **kwargs).detected for seed in range(SIMULATIONS)]
    return float(np.mean(alarms))


def test_cusum_defaults_rarely_alarm_on_calm_errors() -> None:
    n, sigma = 2000, 2.5
    white = _alarm_rate(lambda rng: rng.normal(0, sigma, n))
    correlated = _alarm_rate(lambda rng: sigma * _ar1_unit_variance(rng, n, 0.3))
    fat_tailed = _alarm_rate(lambda rng: sigma * rng.standard_t(5, n) / math.sqrt(5 / 3))
    assert white <= 0.02 and correlated <= 0.05 and fat_tailed <= 0.05
    # Why the cap and the raised threshold: without them, calm errors alarm most of the time.
    assert _alarm_rate(lambda rng: rng.normal(0, sigma, n), k=0.5, h=8.0, cap=np.inf) > 0.9
    assert _alarm_rate(lambda rng: sigma * rng.standard_t(5, n) / math.sqrt(5 / 3), cap=np.inf) > 0.5


@pytest.mark.parametrize(("change", "median_delay", "within_30"), [("doubled scale", 22, 0.8), ("3σ bias", 8, 1.0)])
def test_cusum_detects_a_worse_model_within_about_30_points(change: str, median_delay: int, within_30: float) -> None:
    sigma, start = 2.5, 300
    delays, early, change_found = [], 0, []
    for seed in range(SIMULATIONS):
        rng = np.random.default_rng(1000 + seed)
        errors = rng.normal(0, sigma, start + 200)
        if change == "doubled scale":
            errors[start:] *= 2.0
        else:
            errors[start:] += 3.0 * sigma
        result = cusum_drift(errors, sigma)
        if result.index is not None and result.index < start:
            early += 1
            continue
        delays.append(result.index - start + 1 if result.detected else 10**6)
        change_found.append(result.details["change_index"] if result.detected else -1)
    assert early <= 0.02 * SIMULATIONS
    assert np.median(delays) <= median_delay and np.mean(np.array(delays) <= 30) >= within_30
    assert np.median(np.abs(np.array(change_found) - start)) <= 5  # the estimated start of the rise


# -- distribution_drift --------------------------------------------------------------------------------


def test_ks_statistic_and_kolmogorov_distribution_agree_with_scipy() -> None:
    rng = np.random.default_rng(2)
    for a, b in [
        (rng.normal(size=300), rng.normal(0.2, 1.0, 120)),
        (np.round(rng.normal(size=200)), np.round(rng.normal(size=150) * 1.5)),  # ties
    ]:
        assert ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic)
    lam = np.array([0.0, 0.05, 0.3, 0.7, 0.99, 1.0, 1.2, 1.63, 2.5, 6.0])
    np.testing.assert_allclose(kolmogorov_sf(lam), stats.kstwobign.sf(lam), atol=1e-12)


def test_distribution_drift_p_value_uses_effective_sizes() -> None:
    rng = np.random.default_rng(4)
    reference = np.cumsum(ar(rng, 1500, [0.5]))  # differences with lag-1 autocorrelation near 0.5
    recent = np.cumsum(ar(rng, 400, [0.5], scale=1.3))
    result = distribution_drift(reference, recent)

    def effective(x: np.ndarray) -> float:
        d = np.diff(x) - np.diff(x).mean()
        acf = np.correlate(d, d, mode="full")[len(d) - 1 :] / np.dot(d, d)
        rho = min(max(acf[1], 0.0), 0.95)
        return len(d) * (1 - rho) / (1 + rho)

    n1, n2 = effective(reference), effective(recent)
    ne = n1 * n2 / (n1 + n2)
    d = stats.ks_2samp(np.diff(reference), np.diff(recent)).statistic
    expected_p = stats.kstwobign.sf((math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * d)
    assert result.statistic == pytest.approx(d)
    assert result.details["p_value"] == pytest.approx(expected_p, rel=1e-9)
    assert 0.4 < result.details["rho_reference"] < 0.6
    assert result.detected == (expected_p < 0.01) == (result.statistic > result.threshold)
    evidence = json.loads(json.dumps(result.evidence(), allow_nan=False))
    assert evidence["name"] == "ks_differences" and evidence["n"] == 399 and evidence["psi"] > 0


def test_population_stability_index_against_a_plain_count() -> None:
    rng = np.random.default_rng(5)
    reference, recent = rng.normal(size=1000), rng.normal(0.3, 1.2, 400)
    edges = np.r_[-np.inf, np.quantile(reference, np.arange(1, 10) / 10), np.inf]
    p = np.array([np.mean((reference >= lo) & (reference < hi)) for lo, hi in zip(edges[:-1], edges[1:])])
    q = np.array([np.mean((recent >= lo) & (recent < hi)) for lo, hi in zip(edges[:-1], edges[1:])])
    p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    assert population_stability_index(reference, recent) == pytest.approx(np.sum((q - p) * np.log(q / p)))
    assert population_stability_index(reference, rng.normal(size=1000)) < 0.1
    assert population_stability_index(reference, rng.normal(0, 2.0, 1000)) > 0.25


def _walk_with_correlated_steps(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.cumsum(ar(rng, n, [0.6]))


@pytest.mark.parametrize(
    "make",
    [
        lambda rng, n: np.cumsum(rng.normal(size=n)),  # random walk: white differences
        lambda rng, n: 20 + ar(rng, n + 200, [0.8])[200:],  # stationary AR(1) levels
        _walk_with_correlated_steps,  # differences with lag-1 autocorrelation 0.6
    ],
    ids=["random walk", "ar1 levels", "correlated steps"],
)
def test_distribution_drift_rarely_alarms_on_calm_series(
    make: Callable[[np.random.Generator, int], np.ndarray],
) -> None:
    alarms, uncorrected = 0, 0
    for seed in range(SIMULATIONS):
        values = make(np.random.default_rng(seed), 1500)
        alarms += distribution_drift(values[:1200], values[1200:]).detected
        uncorrected += stats.ks_2samp(np.diff(values[:1200]), np.diff(values[1200:]), method="asymp").pvalue < 0.01
    assert alarms <= 0.05 * SIMULATIONS
    if make is _walk_with_correlated_steps:  # what the effective sizes are for
        assert uncorrected >= 0.08 * SIMULATIONS


def test_distribution_drift_detects_a_change_of_noise_or_dynamics() -> None:
    noisier, faster = 0, 0
    for seed in range(50):
        rng = np.random.default_rng(seed)
        walk = np.cumsum(np.r_[rng.normal(0, 1.0, 2000), rng.normal(0, 1.5, 500)])
        noisier += distribution_drift(walk[:2000], walk[2000:]).detected
        # Same level variance, less persistence: the series moves more from one point to the next.
        slow = ar(rng, 2000, [0.8], scale=0.6)
        fast = ar(rng, 500, [0.4], scale=math.sqrt(0.36 * (1 - 0.16) / (1 - 0.64)))
        faster += distribution_drift(slow, fast).detected
        assert np.std(fast) == pytest.approx(np.std(slow), rel=0.25)
    assert noisier >= 45 and faster >= 45


def test_distribution_drift_needs_enough_differences() -> None:
    result = distribution_drift(np.arange(100.0), np.arange(20.0), min_count=30)
    assert not result.detected and math.isnan(result.statistic)
    assert json.loads(json.dumps(result.evidence(), allow_nan=False))["statistic"] is None
    with pytest.raises(ForecastInputError, match="alpha"):
        distribution_drift(np.arange(100.0), np.arange(100.0), alpha=0.0)


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
