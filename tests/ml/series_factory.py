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
        "trend and two seasons": 0.01 * t
        + 3 * np.sin(2 * np.pi * t / 168)
        + np.sin(2 * np.pi * t / 24)
        + rng.normal(0, 0.3, len(t)),
        "white noise": rng.normal(0, 1, len(t)),
        "monthly airline-like": (100 + 2 * np.arange(240)) * (1 + 0.2 * np.sin(2 * np.pi * np.arange(240) / 12))
        + rng.normal(0, 3, 240),
        "large offset": 1e6 + ar(rng, len(t), [0.9], scale=0.01),
    }


def airline(
    rng: np.random.Generator, n: int, season: int = 12, theta: float = -0.4, seasonal_theta: float = -0.6
) -> np.ndarray:
    """Box and Jenkins' airline model, SARIMA(0,1,1)(0,1,1)_s: a trend and a season that both wander,
    which a linear unit on raw values can only follow with differencing."""
    e = rng.normal(0.0, 1.0, n + season + 1)
    ma = lfilter([1.0, theta], [1.0], e)
    w = lfilter(np.r_[1.0, np.zeros(season - 1), seasonal_theta], [1.0], ma)[season + 1 :]
    difference = np.convolve([1.0, -1.0], np.r_[1.0, np.zeros(season - 1), -1.0])
    return 100.0 + lfilter([1.0], difference, w)
