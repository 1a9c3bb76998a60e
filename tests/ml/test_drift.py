"""Drift tests, checked against independent computations (plain loops, scipy) and, for their
false-alarm and detection rates, by simulation over seeded series."""

import json
import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from ml.drift import (
    cusum_drift,
    cusum_statistic,
    distribution_drift,
    kolmogorov_sf,
    ks_statistic,
    population_stability_index,
)
from ml.errors import ForecastInputError
from tests.ml.series_factory import ar

SIMULATIONS = 200


def _ar1_unit_variance(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """AR(1) with marginal variance 1: what a holdout's RMSE would measure as σ = 1."""
    return ar(rng, n + 100, [phi], scale=math.sqrt(1.0 - phi * phi))[100:]


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
