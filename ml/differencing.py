"""Differencing and seasonal lags, and why a model on a differenced series is still one linear unit.

Differencing is linear: with the differencing polynomial φ(B) (1 - B, (1 - B)², 1 - B^s, or
(1 - B)(1 - B^s) for both),
the differenced series is d_t = φ(B) y_t. A linear unit on d, d̂_t = a(B) d_t + c with a(B) the
weights by lag, forecasts y_t = d_t - (φ(B) - 1) y_t as

    ŷ_t = [1 - φ(B) (1 - a(B))] y_t + c,

a linear unit on the raw values whose window is longer by the order of φ. So a model trained on
the differenced series is served, saved and forecast recursively exactly like a plain one.
"""

import functools

import numpy as np

from ml.errors import ForecastInputError

DIFFERENCING = ("none", "first", "second", "seasonal", "both")


def check_structure(window_size: int, differencing: str, season_length: int, seasonal_lags: int) -> None:
    """Raise ForecastInputError unless the options describe a model that can be built."""
    if differencing not in DIFFERENCING:
        raise ForecastInputError(f"differencing must be one of {', '.join(DIFFERENCING)}, got {differencing!r}")
    if isinstance(season_length, bool) or not isinstance(season_length, (int, np.integer)) or season_length < 1:
        raise ForecastInputError(f"season_length must be an integer >= 1, got {season_length!r}")
    if isinstance(seasonal_lags, bool) or not isinstance(seasonal_lags, (int, np.integer)) or seasonal_lags < 0:
        raise ForecastInputError(f"seasonal_lags must be an integer >= 0, got {seasonal_lags!r}")
    if season_length < 2 and (differencing in ("seasonal", "both") or seasonal_lags > 0):
        raise ForecastInputError(
            f"differencing={differencing!r} with seasonal_lags={seasonal_lags} needs season_length >= 2, "
            f"got {season_length}"
        )


def polynomial(differencing: str, season_length: int) -> np.ndarray:
    """φ's coefficients by lag, φ[0] = 1: d_t = Σ φ[i] y_{t-i}."""
    first = np.array([1.0, -1.0])
    seasonal = np.zeros(season_length + 1)
    seasonal[0], seasonal[-1] = 1.0, -1.0
    if differencing == "first":
        return first
    if differencing == "second":
        return np.convolve(first, first)
    if differencing == "seasonal":
        return seasonal
    if differencing == "both":
        return np.convolve(first, seasonal)
    return np.ones(1)


def order(differencing: str, season_length: int) -> int:
    """Raw values consumed by differencing (the degree of φ)."""
    return len(polynomial(differencing, season_length)) - 1


@functools.lru_cache(maxsize=1024)
def input_lags(window_size: int, season_length: int, seasonal_lags: int) -> np.ndarray:
    """The lags the unit reads on the (differenced) series: 1..window_size, then the seasonal lags
    s, 2s, ... (up to seasonal_lags of them) that lie beyond the window. Read-only (cached)."""
    extra = season_length * np.arange(1, seasonal_lags + 1)
    lags = np.concatenate([np.arange(1, window_size + 1), extra[extra > window_size]]).astype(int)
    lags.flags.writeable = False
    return lags


def span(window_size: int, season_length: int, seasonal_lags: int) -> int:
    """How far back the unit reads on the (differenced) series: its largest lag."""
    return int(input_lags(window_size, season_length, seasonal_lags)[-1])


def effective_window(window_size: int, differencing: str, season_length: int, seasonal_lags: int) -> int:
    """The raw window the equivalent linear unit needs: the span plus the differencing order."""
    return span(window_size, season_length, seasonal_lags) + order(differencing, season_length)


def difference(values: np.ndarray, differencing: str, season_length: int) -> np.ndarray:
    """d_t = φ(B) y_t for every t with a full history: len(values) - order points."""
    phi = polynomial(differencing, season_length)
    if len(phi) == 1:
        return values
    return np.convolve(values, phi, mode="valid")


def raw_unit(
    lag_weights: np.ndarray, intercept: float, differencing: str, season_length: int
) -> tuple[np.ndarray, float]:
    """The raw-window linear unit equivalent to d̂_t = Σ lag_weights[l-1] d_{t-l} + intercept.

    Returns weights ordered oldest first (the serving order) and the intercept, so that
    ŷ_t = window @ weights + intercept."""
    phi = polynomial(differencing, season_length)
    one_minus_a = np.concatenate([[1.0], -np.asarray(lag_weights, dtype=np.float64)])
    beta = -np.convolve(phi, one_minus_a)
    return beta[1:][::-1].copy(), float(intercept)
