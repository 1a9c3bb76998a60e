"""Does a change to model selection generalise? `python -m bench.selection [--seeds N] NAME=JSON ...`

Runs `ml.selection.select` with its defaults and with each named variant (keyword arguments of
`select` as JSON, e.g. `uncapped='{"max_candidates": 1000}'`) on simulated series of eleven
kinds (hourly to yearly, stochastic and fixed seasons, trends, wandering levels) and prints, per
kind, the geometric mean of the variant's holdout RMSE over the defaults', with wins and losses.
The accuracy bench has eleven real series; a grid or selection rule that moves them both ways
should be judged here, on series nobody tuned to, before it lands. Each probe of earlier sessions
rebuilt this by hand; a change to the rule's code can be compared by running this before and after.
"""

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
from scipy.signal import lfilter

from ml.evaluation import holdout_predictions
from ml.selection import select

HOUR, DAY = 3600.0, 86_400.0
HOLDOUT_FRACTION = 0.2
Generator = Callable[[np.random.Generator], tuple[float, np.ndarray]]


def ar(rng: np.random.Generator, n: int, coefficients: list[float], scale: float) -> np.ndarray:
    return lfilter([1.0], [1.0, *(-c for c in coefficients)], rng.normal(0.0, scale, n))


def airline(rng: np.random.Generator, n: int, season: int) -> np.ndarray:
    """SARIMA(0,1,1)(0,1,1)_s with θ = -0.4, Θ = -0.6: a trend and a season that both wander."""
    e = rng.normal(0.0, 1.0, n + season + 1)
    w = lfilter(np.r_[1.0, np.zeros(season - 1), -0.6], [1.0], lfilter([1.0, -0.4], [1.0], e))[season + 1 :]
    return 100.0 + lfilter([1.0], np.convolve([1.0, -1.0], np.r_[1.0, np.zeros(season - 1), -1.0]), w)


def _cycle(n: int, period: float) -> np.ndarray:
    return np.sin(2 * np.pi * np.arange(n) / period)


def _shape(rng: np.random.Generator, n: int, season: int, scale: float) -> np.ndarray:
    return np.tile(rng.normal(0.0, scale, season), n // season + 1)[:n]


KINDS: dict[str, Generator] = {
    "hourly, smooth cycle on AR(2)": lambda r: (
        HOUR,
        15 + 4 * _cycle(1500, 24) + 2 * _cycle(1500, 12) + ar(r, 1500, [1.2, -0.4], 0.5),
    ),
    "hourly airline": lambda r: (HOUR, airline(r, 1200, 24)),
    "hourly fixed shape on AR(1)": lambda r: (HOUR, _shape(r, 1400, 24, 2.0) + ar(r, 1400, [0.8], 0.7)),
    "hourly wandering level, daily cycle": lambda r: (
        HOUR,
        np.cumsum(r.normal(0, 0.3, 1400)) + 3 * _cycle(1400, 24) + r.normal(0, 0.5, 1400),
    ),
    "daily fixed weekly shape": lambda r: (DAY, 50 + _shape(r, 900, 7, 3.0) + ar(r, 900, [0.6, 0.2], 1.5)),
    "weekly yearly cycle": lambda r: (7 * DAY, 10 + 5 * _cycle(520, 52.18) + ar(r, 520, [0.7], 1.0)),
    "monthly airline": lambda r: (30.4375 * DAY, airline(r, 240, 12)),
    "monthly fixed shape on AR(1)": lambda r: (30.4375 * DAY, _shape(r, 200, 12, 5.0) + ar(r, 200, [0.7], 2.0)),
    "monthly trend on AR(2)": lambda r: (30.4375 * DAY, 100 + 0.5 * np.arange(150) + ar(r, 150, [0.9, -0.3], 2.0)),
    "quarterly shape on a drifting walk": lambda r: (
        91.3 * DAY,
        _shape(r, 120, 4, 3.0) + np.cumsum(r.normal(0.2, 1.0, 120)),
    ),
    "yearly AR(2)": lambda r: (365.25 * DAY, 50 + ar(r, 80, [1.3, -0.5], 3.0)),
}


def holdout_rmse(values: np.ndarray, step: float, options: dict) -> tuple[float, float]:
    """Holdout RMSE of the selected model (one-step, fitted once) and the seconds `select` took."""
    times = 1.6e9 + step * np.arange(len(values))
    start = len(values) - int(round(HOLDOUT_FRACTION * len(values)))
    began = time.perf_counter()
    selection = select(values[:start], step, times=times[:start], **options)
    seconds = time.perf_counter() - began
    predicted = holdout_predictions(selection.model, values, start, times)
    return float(np.sqrt(np.mean((predicted - values[start:]) ** 2))), seconds


def compare(variants: dict[str, dict], seeds: int) -> str:
    """The report: each variant against the defaults, per kind and over all series."""
    variants = {"defaults": {}, **variants}
    rmse = {name: {kind: [] for kind in KINDS} for name in variants}
    seconds = dict.fromkeys(variants, 0.0)
    for seed in range(seeds):
        for kind, generate in KINDS.items():
            step, values = generate(np.random.default_rng([seed, list(KINDS).index(kind)]))
            for name, options in variants.items():
                score, spent = holdout_rmse(values, step, options)
                rmse[name][kind].append(score)
                seconds[name] += spent
    lines = [f"{len(KINDS)} kinds x {seeds} seeds; holdout RMSE ratio to the defaults (geometric mean)"]
    for name in list(variants)[1:]:
        lines.append(f"\n{name} {json.dumps(variants[name])}")
        ratios = []
        for kind in KINDS:
            ratio = np.array(rmse[name][kind]) / np.array(rmse["defaults"][kind])
            ratios.append(ratio)
            lines.append(
                f"  {kind:38s} {_geometric(ratio):.4f}  wins {int(np.sum(ratio < 0.9999)):2d}"
                f"  losses {int(np.sum(ratio > 1.0001)):2d}  worst {ratio.max():.3f}"
            )
        lines.append(f"  {'all':38s} {_geometric(np.concatenate(ratios)):.4f}")
    lines.append("\nselect() seconds in all: " + ", ".join(f"{name} {spent:.1f}" for name, spent in seconds.items()))
    return "\n".join(lines)


def _geometric(ratios: np.ndarray) -> float:
    return float(np.exp(np.mean(np.log(ratios))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", metavar="NAME=JSON", help="keyword arguments of ml.selection.select")
    parser.add_argument("--seeds", type=int, default=12)
    args = parser.parse_args()
    variants = {}
    for spec in args.variants:
        name, _, options = spec.partition("=")
        variants[name] = json.loads(options or "{}")
    print(compare(variants, args.seeds))


if __name__ == "__main__":
    main()
