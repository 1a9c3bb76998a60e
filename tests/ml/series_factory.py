"""Series of the kinds real data shows, generated with a seed: the model is tested on shapes, not
on one dataset."""

import numpy as np
from scipy.signal import lfilter


def ar(rng: np.random.Generator, n: int, coefficients: list[float], scale: float = 1.0) -> np.ndarray:
    return lfilter([1.0], [1.0, *(-c for c in coefficients)], rng.normal(0.0, scale, n))


def kinds(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(3000)
    return {
        "noisy daily cycle": 20 + 5 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.5, len(t)),
        "random walk": np.cumsum(rng.normal(0, 1, len(t))),
        "random walk with drift": np.cumsum(rng.normal(0.3, 1, len(t))),
        "ar(2)": ar(rng, len(t), [1.6, -0.7]),
        "trend and two seasons": 0.01 * t + 3 * np.sin(2 * np.pi * t / 168) + np.sin(2 * np.pi * t / 24)
        + rng.normal(0, 0.3, len(t)),
        "white noise": rng.normal(0, 1, len(t)),
        "monthly airline-like": (100 + 2 * np.arange(240)) * (1 + 0.2 * np.sin(2 * np.pi * np.arange(240) / 12))
        + rng.normal(0, 3, 240),
        "large offset": 1e6 + ar(rng, len(t), [0.9], scale=0.01),
    }
