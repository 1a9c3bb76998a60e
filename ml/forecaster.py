"""The perceptron forecaster: a linear unit on a sliding window of standardised values.

Training minimises the mean squared error: `ml.least_squares` gathers the unit's problem (the
window's second moments, in one pass) and `ml.descent` solves it by accelerated full-batch
gradient descent with early stopping, so every epoch costs O(window_size**2) whatever the length
of the series.

Options keep it one linear unit: the series can be differenced first (once, twice, seasonally,
or seasonally and once) and the unit can read extra seasonal lags and calendar terms (the phase
of the target's day, week or year, `ml.calendar_inputs`); `ml.differencing` turns the unit
trained on the transformed series into the equivalent unit on a longer raw window, which is all
that is served, with the calendar's effect added. `fit_many` trains many units in one vectorised
descent (the folds of a backtest, the members of an ensemble): each takes the steps it would
take alone.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import mul, sub

import numpy as np

from ml import calendar_inputs as cal
from ml import differencing as diff
from ml import least_squares
from ml.calendar_inputs import Calendar
from ml.descent import ProgressCallback, nesterov
from ml.errors import ForecastInputError
from ml.intervals import PredictionIntervals
from ml.windows import as_series, check_window_size

SOLVERS = ("descent", "exact")


@dataclass(frozen=True)
class Hyperparameters:
    """What training needs besides the data. `learning_rate` is a fraction of the largest step
    that cannot diverge (1/L, L the largest eigenvalue of the inputs' second-moment matrix), so
    1.0 is both safe and fast on any series; `epochs` is a ceiling that early stopping rarely
    reaches. `window_size` counts values of the (differenced) series the unit reads; the raw
    window a caller sends is `effective_window`, longer by the differencing order and reaching
    back to the last seasonal lag. `calendar_period` (seconds) and `calendar_harmonics` add sines
    and cosines of the target's phase in that cycle as inputs (0 and 0: none)."""

    window_size: int = 24
    epochs: int = 10_000
    learning_rate: float = 1.0
    patience: int = 100
    tolerance: float = 1e-9
    seed: int = 42
    differencing: str = "none"
    season_length: int = 1
    seasonal_lags: int = 0
    calendar_period: float = 0.0
    calendar_harmonics: int = 0

    def __post_init__(self) -> None:
        check_window_size(self.window_size)
        diff.check_structure(self.window_size, self.differencing, self.season_length, self.seasonal_lags)
        cal.check(self.calendar_period, self.calendar_harmonics)
        _check_int("epochs", self.epochs, minimum=1)
        _check_int("patience", self.patience, minimum=1)
        _check_int("seed", self.seed, minimum=0)
        if not isinstance(self.learning_rate, (int, float)) or not 0.0 < self.learning_rate <= 1.0:
            raise ForecastInputError(
                f"learning_rate must be in (0, 1] (a fraction of the largest stable step), got {self.learning_rate!r}"
            )
        if not isinstance(self.tolerance, (int, float)) or not 0.0 <= self.tolerance < 1.0:
            raise ForecastInputError(f"tolerance must be in [0, 1), got {self.tolerance!r}")

    @property
    def effective_window(self) -> int:
        return diff.effective_window(self.window_size, self.differencing, self.season_length, self.seasonal_lags)

    @property
    def parameters(self) -> int:
        """Weights on the (differenced) series and the calendar terms, plus the bias."""
        lags = diff.input_lags(self.window_size, self.season_length, self.seasonal_lags)
        return len(lags) + self.calendar_inputs + 1

    @property
    def calendar_inputs(self) -> int:
        return 2 * self.calendar_harmonics

    @property
    def minimum_points(self) -> int:
        """Training points needed for as many training windows as the unit has parameters."""
        return self.effective_window + self.parameters

    @property
    def descent(self) -> dict:
        """The settings of the gradient descent, without the structure."""
        return {
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "patience": self.patience,
            "tolerance": self.tolerance,
            "seed": self.seed,
        }

    def describe(self) -> str:
        """A short name for logs and reports, e.g. `w12 d=both s=12 +2 seasonal lags`."""
        text = f"w{self.window_size} d={self.differencing}"
        if self.differencing in ("seasonal", "both") or self.seasonal_lags:
            text += f" s={self.season_length}"
        text += f" +{self.seasonal_lags} seasonal lags" if self.seasonal_lags else ""
        if self.calendar_harmonics:
            text += f" +{cal.period_name(self.calendar_period)} x{self.calendar_harmonics}"
        return text


@dataclass(frozen=True)
class Member:
    """One linear unit inside a saved model, as it was trained: what the JSON records besides the
    effective weights. `weight` is its share in an ensemble (1 for a single unit)."""

    window_size: int
    differencing: str = "none"
    season_length: int = 1
    seasonal_lags: int = 0
    weight: float = 1.0
    backtest_rmse: float | None = None
    calendar_period: float = 0.0
    calendar_harmonics: int = 0

    @classmethod
    def of(cls, hp: Hyperparameters, weight: float = 1.0, backtest_rmse: float | None = None) -> "Member":
        return cls(
            hp.window_size,
            hp.differencing,
            hp.season_length,
            hp.seasonal_lags,
            weight,
            backtest_rmse,
            hp.calendar_period,
            hp.calendar_harmonics,
        )

    def hyperparameters(self, descent: dict) -> Hyperparameters:
        """The unit's settings, trained by `descent` (see `Hyperparameters.descent`)."""
        return Hyperparameters(
            window_size=self.window_size,
            differencing=self.differencing,
            season_length=self.season_length,
            seasonal_lags=self.seasonal_lags,
            calendar_period=self.calendar_period,
            calendar_harmonics=self.calendar_harmonics,
            **descent,
        )

    @property
    def effective_window(self) -> int:
        return diff.effective_window(self.window_size, self.differencing, self.season_length, self.seasonal_lags)


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ForecastInputError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclass
class PerceptronForecaster:
    """Predicts the next value from the last `window_size` values.

    After `fit`, the state is `weights` (one per value of the raw window, oldest first) and `bias`
    plus the scaler's `mean` and `std`: predict = (window - mean) @ weights + std * bias + mean,
    plus `calendar.effect(t)` at the target's time t when the unit reads the calendar (its
    forecasts then need timestamps). That form holds any linear unit on a raw window, so a
    differenced unit or an ensemble (`ml.ensemble.combine`) is served the same way; `members`
    records how it was built.
    """

    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    weights: np.ndarray | None = None
    bias: float = 0.0
    mean: float = 0.0
    std: float = 1.0
    intervals: PredictionIntervals | None = None
    epochs_trained: int = 0
    final_loss: float = float("nan")
    training_samples: int = 0
    loss_history: np.ndarray = field(default_factory=lambda: np.empty(0))
    metadata: dict = field(default_factory=dict)
    members: tuple[Member, ...] = ()
    calendar: Calendar | None = None
    _listed: tuple[np.ndarray, list[float]] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def window_size(self) -> int:
        """The raw values a caller sends: the effective window of the unit."""
        if self.weights is not None:
            return len(self.weights)
        return self.hyperparameters.effective_window

    @property
    def structure(self) -> tuple[Member, ...]:
        return self.members or (Member.of(self.hyperparameters),)

    @property
    def is_fitted(self) -> bool:
        return self.weights is not None

    def fit(
        self,
        values: object,
        progress: ProgressCallback | None = None,
        progress_every: int = 1000,
        times: np.ndarray | None = None,
    ) -> "PerceptronForecaster":
        """Fit on a training series (oldest first), with its `times` (epoch seconds) when the
        unit reads the calendar. `progress(epoch, loss)` is called every `progress_every` epochs
        and at the end, for logs of long trainings."""
        series = as_series(values)
        (fitted,) = fit_many([self.hyperparameters], [series], progress, progress_every, [self], times=[times])
        return fitted

    def predict(self, windows_: object, times: object = None) -> np.ndarray:
        """The next value after each window: one row per window, oldest value first; `times`
        (epoch seconds of each target, or one for all) is needed by a unit that reads the calendar."""
        weights = self._require_fitted()
        x = np.asarray(windows_, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.window_size:
            got = x.shape[-1] if x.ndim >= 1 else 0
            raise ForecastInputError(f"each window must have window_size={self.window_size} values, got {got}")
        if not np.all(np.isfinite(x)):
            raise ForecastInputError("windows must hold finite numbers only (no NaN or infinity)")
        predicted = (x - self.mean) @ weights + (self.std * self.bias + self.mean)
        if self.calendar is not None:
            predicted += self.calendar.effect(cal.require_times(times, len(x), "target"))
        return predicted

    def forecast_windows(self, windows_: np.ndarray, horizon: int, times: object = None) -> np.ndarray:
        """Recursive multi-step forecasts for many windows at once: shape (n_windows, horizon).
        `times`: for a unit that reads the calendar, epoch seconds of each window's first target
        (or one for all; later steps follow at the calendar's step), or of every target, shape
        (n_windows, horizon), when the caller knows the dates (calendar months are not a step).

        Each step feeds the previous prediction back as the newest input; the loop runs over
        the horizon, each step vectorised over all windows."""
        _check_int("horizon", horizon, minimum=1)
        x = np.asarray(windows_, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        effect = None
        if self.calendar is not None:
            targets = self.calendar.targets(times, len(x), horizon)
            times = targets[:, 0]
            effect = self.calendar.effect(targets[:, 1:]) if horizon > 1 else None
        first = self.predict(x, times)
        w = self.window_size
        buffer = np.empty((x.shape[0], w + horizon))
        buffer[:, :w] = x
        buffer[:, w] = first
        weights = self.weights
        offset = self.std * self.bias + self.mean
        for step in range(1, horizon):
            buffer[:, w + step] = (buffer[:, step : step + w] - self.mean) @ weights + offset
            if effect is not None:
                buffer[:, w + step] += effect[:, step - 1]
        return buffer[:, w:]

    def forecast_last(
        self, window: Sequence[float], horizon: int, time: float | Sequence[float] | None = None
    ) -> tuple[list[float], list[float], list[float]]:
        """Forecasts and interval bounds after one window already checked (its length, finite
        values), as Python floats: the shape of a request. `time`: the first target's epoch
        seconds, or every target's, for a unit that reads the calendar. One step is one dot
        product, summed by builtins on the window as a list (on a few dozen values numpy's cost per
        call is larger than the arithmetic); more steps go through `forecast_windows`."""
        weights = self._weights_list()
        if horizon == 1:
            mean = self.mean
            value = sum(map(mul, map(sub, window, repeat(mean)), weights)) + (self.std * self.bias + mean)
            if self.calendar is not None:
                first = time[0] if np.ndim(time) == 1 and len(time) else time
                value += float(self.calendar.effect(cal.require_times(first, 1, "target"))[0])
            if self.intervals is None:
                return [value], [value], [value]
            lower, upper = self.intervals.first
            return [value], [value + lower], [value + upper]
        every = np.asarray(time, dtype=np.float64)[None, :] if np.ndim(time) == 1 else time
        point = self.forecast_windows(np.asarray(window, dtype=np.float64)[None, :], horizon, every)
        lower, upper = self.bounds(point)
        return point[0].tolist(), lower[0].tolist(), upper[0].tolist()

    def _weights_list(self) -> list[float]:
        """The weights as floats, made once per set of weights (`fit` replaces the array)."""
        weights = self._require_fitted()
        listed = self._listed
        if listed is None or listed[0] is not weights:
            self._listed = listed = (weights, weights.tolist())
        return listed[1]

    def forecast(self, history: object, horizon: int = 1, time: float | None = None) -> np.ndarray:
        """The next `horizon` values after a history of at least `window_size` values (`time`:
        the first target's epoch seconds, for a unit that reads the calendar)."""
        series = as_series(history, "history")
        if len(series) < self.window_size:
            raise ForecastInputError(f"history needs at least window_size={self.window_size} values, got {len(series)}")
        return self.forecast_windows(series[-self.window_size :], horizon, time)[0]

    def bounds(self, forecasts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interval bounds around forecasts of shape (..., horizon); the forecasts themselves when
        the model carries no intervals."""
        if self.intervals is None:
            return forecasts, forecasts
        lower, upper = self.intervals.offsets(forecasts.shape[-1])
        return forecasts + lower, forecasts + upper

    def _require_fitted(self) -> np.ndarray:
        if self.weights is None:
            raise ForecastInputError("the model is not fitted yet; call fit() first")
        return self.weights


def fit_many(
    hps: Sequence[Hyperparameters],
    series: Sequence[np.ndarray],
    progress: ProgressCallback | None = None,
    progress_every: int = 1000,
    into: Sequence[PerceptronForecaster] | None = None,
    solver: str = "descent",
    times: Sequence[np.ndarray | None] | None = None,
) -> list[PerceptronForecaster]:
    """Fit one unit per (hyper-parameters, training series) pair in a single vectorised descent.

    Each unit gets the result it would get alone, up to rounding (its own start, step, momentum
    and early stop); batching only shares the per-epoch numpy overhead, which dominates for
    small units.
    `series` must be finite float vectors (see `as_series`), with their `times` (epoch seconds,
    one array per series) for units that read the calendar; `progress` follows the first unit.

    `solver="exact"` solves the same least-squares problem directly instead (the optimum the
    descent converges to, `epochs_trained` 0): a fast stand-in for scoring many candidates in a
    backtest. Served models are trained by the descent."""
    if solver not in SOLVERS:
        raise ForecastInputError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    models = list(into) if into is not None else [PerceptronForecaster(hp) for hp in hps]
    raw_scales: dict[int, tuple[float, float]] = {}
    clocks = list(times) if times is not None else [None] * len(hps)
    problems = [
        least_squares.problem(hp, values, raw_scales, clock)
        for hp, values, clock in zip(hps, series, clocks, strict=True)
    ]
    if solver == "exact":
        thetas = [p.exact() for p in problems]
        histories = [np.array([max(p.loss(theta), 0.0)]) for p, theta in zip(problems, thetas, strict=True)]
    else:
        thetas, histories = nesterov(
            [p.gram for p in problems],
            [p.moment for p in problems],
            [p.target_power for p in problems],
            hps,
            progress,
            progress_every,
        )
    for model, hp, problem, theta, history in zip(models, hps, problems, thetas, histories, strict=True):
        if not np.all(np.isfinite(theta)):
            raise ForecastInputError("training diverged to non-finite weights; check the series for extreme values")
        model.hyperparameters = hp
        model.weights, model.bias, model.mean, model.std = problem.served(theta)
        model.loss_history = history
        model.epochs_trained = len(history) if solver == "descent" else 0
        model.final_loss = float(history[-1]) if len(history) else float("nan")
        model.training_samples = problem.samples
        model.members = (Member.of(hp),)
        model.calendar = problem.calendar(theta)
    return models
