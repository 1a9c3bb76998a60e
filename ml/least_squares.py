"""The least-squares problem one linear unit solves, gathered once from its training series.

A unit reads a window of its (differenced, standardised) series; the mean squared error of all
its windows is a quadratic in its weights, so the window's second moments (G = A'A/n, h = A'y/n,
y'y/n) are everything training needs, gathered in a single chunked pass: every epoch after that
costs O(window_size**2) whatever the series' length. `Problem.served` maps a solution back to the
equivalent unit on the raw window, the only thing served, and `Problem.calendar` the calendar
terms' coefficients in raw units (the unit's inputs are the lags, then the calendar terms of
each target's time, then the constant).
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ml import calendar_inputs as cal
from ml import differencing as diff
from ml.errors import ForecastInputError
from ml.windows import windows

if TYPE_CHECKING:
    from ml.forecaster import Hyperparameters

_CHUNK_ROWS = 65_536


@dataclass(frozen=True)
class Problem:
    """One unit's least-squares problem in standardised units of its (differenced) series."""

    hp: "Hyperparameters"
    gram: np.ndarray
    moment: np.ndarray
    target_power: float
    samples: int
    lags: np.ndarray
    scale: tuple[float, float]
    raw_scale: tuple[float, float]
    step: float = 0.0
    months: int = 0

    def exact(self) -> np.ndarray:
        """The least-squares optimum (minimum norm when the inputs are collinear)."""
        return np.linalg.lstsq(self.gram, self.moment, rcond=None)[0]

    def loss(self, theta: np.ndarray) -> float:
        return float(theta @ self.gram @ theta - 2.0 * self.moment @ theta + self.target_power)

    def served(self, theta: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """(weights, bias, mean, std) of the equivalent unit on the raw window."""
        hp = self.hp
        if hp.differencing == "none" and hp.seasonal_lags == 0:
            return theta[: len(self.lags)].copy(), float(theta[-1]), *self.scale
        # Weights by lag on the differenced series, then in its own units: d̂ = a·d + intercept.
        mean, std = self.scale
        by_lag = np.zeros(self.lags[-1])
        by_lag[self.lags[::-1] - 1] = theta[: len(self.lags)]
        intercept = std * float(theta[-1]) + mean * (1.0 - float(by_lag.sum()))
        weights, intercept = diff.raw_unit(by_lag, intercept, hp.differencing, hp.season_length)
        raw_mean, raw_std = self.raw_scale
        bias = (intercept - raw_mean + raw_mean * float(weights.sum())) / raw_std
        return weights, bias, raw_mean, raw_std

    def calendar(self, theta: np.ndarray) -> cal.Calendar | None:
        """The calendar terms of the solution, in the series' raw units; None for a unit without."""
        hp = self.hp
        if not hp.calendar_harmonics:
            return None
        coefficients = self.scale[1] * theta[len(self.lags) : -1]
        return cal.Calendar.of(hp.calendar_period, coefficients, self.step, self.months)


def problem(
    hp: "Hyperparameters",
    values: np.ndarray,
    raw_scales: dict[int, tuple[float, float]],
    times: np.ndarray | None = None,
) -> Problem:
    """The unit's least-squares problem; `raw_scales` caches the scaler of each training series
    (by identity) across the units of one batch. `times` (epoch seconds of `values`) feed the
    calendar terms of a unit that reads them."""
    if len(values) < hp.minimum_points:
        what = "" if hp.differencing == "none" and hp.seasonal_lags == 0 else f" ({hp.describe()})"
        raise ForecastInputError(
            f"too few training points: window_size={hp.window_size}{what} needs at least "
            f"{hp.minimum_points} (as many windows as the model has parameters), got {len(values)}"
        )
    transformed = diff.difference(values, hp.differencing, hp.season_length)
    z, mean, std = standardise(transformed)
    lags = diff.input_lags(hp.window_size, hp.season_length, hp.seasonal_lags)
    span = int(lags[-1])
    columns = None if len(lags) == span else span - lags[::-1]
    targets, step, months = None, 0.0, 0
    if hp.calendar_harmonics:
        clock = cal.require_times(times, len(values), "training series'")
        # The target of the first window on the differenced series is raw point order + span.
        targets = (clock[len(values) - len(transformed) + span :], hp.calendar_period, hp.calendar_harmonics)
        step = float(clock[-1] - clock[0]) / max(1, len(clock) - 1)
        months = cal.months_apart(clock)
    gram, moment, target_power, n = _second_moments(z, span, columns, targets)
    if transformed is values:
        raw_scales.setdefault(id(values), (mean, std))
    elif id(values) not in raw_scales:
        raw_scales[id(values)] = standardise(values)[1:]
    raw_scale = raw_scales[id(values)]
    return Problem(hp, gram, moment, target_power, n, lags, (mean, std), raw_scale, step, months)


def _second_moments(
    z: np.ndarray,
    window_size: int,
    columns: np.ndarray | None = None,
    calendar: tuple[np.ndarray, float, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """G = A'A/n, h = A'y/n and y'y/n for A = [windows, calendar terms, 1]: everything the MSE
    gradient needs. `columns` picks positions of the window (oldest first) when the unit reads
    only some lags; `calendar` is (each window's target time, period, harmonics) for a unit that
    reads the calendar.

    Gathered in chunks of rows so a million-point series never materialises its window matrix."""
    x, y = windows(z, window_size)
    n = len(y)
    lagged = window_size if columns is None else len(columns)
    d = lagged + 1 + (0 if calendar is None else 2 * calendar[2])
    gram = np.zeros((d, d))
    moment = np.zeros(d)
    chunk = np.empty((min(_CHUNK_ROWS, n), d))
    chunk[:, -1] = 1.0
    for start in range(0, n, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, n)
        rows = chunk[: stop - start]
        rows[:, :lagged] = x[start:stop] if columns is None else x[start:stop][:, columns]
        if calendar is not None:
            targets, period, harmonics = calendar
            rows[:, lagged:-1] = cal.features(targets[start:stop], period, harmonics)
        gram += rows.T @ rows
        moment += rows.T @ y[start:stop]
    return gram / n, moment / n, float(y @ y) / n, n


def standardise(series: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(series - mean) / std, with mean and std. Computed on the series divided by its largest
    magnitude, so values near the float64 limit (1e300) do not overflow on the way; a constant
    series gets std 1 (its windows are all zeros and the bias carries the level)."""
    magnitude = float(np.max(np.abs(series)))
    scaled = series / magnitude if magnitude > 0.0 else series
    mean, std = float(scaled.mean()), float(scaled.std())
    z = (scaled - mean) / std if std > 0.0 else scaled - mean
    if magnitude > 0.0:
        mean, std = mean * magnitude, std * magnitude
    return z, mean, std if std > 0.0 else 1.0
