"""The perceptron forecaster: a linear unit on a sliding window of standardised values.

Training minimises the mean squared error by full-batch gradient descent. Because the model
is linear and the loss quadratic, the full-batch gradient only needs the window's second
moments, gathered once in a single pass over the data; every epoch after that costs
O(window_size**2), whatever the length of the series. Plain gradient descent with a fixed
small step (the original system's 100 epochs at 0.01) stops far from the optimum on the
strongly correlated inputs a sliding window makes, and a larger step diverges. So the step is
scaled by the largest curvature of the loss (the step that cannot diverge), Nesterov momentum
with adaptive restart carries it through the ill-conditioned directions, and early stopping
ends training once the loss stops improving.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ml.errors import ForecastInputError
from ml.intervals import PredictionIntervals
from ml.windows import as_series, check_window_size, windows

ProgressCallback = Callable[[int, float], None]

_CHUNK_ROWS = 65_536


@dataclass(frozen=True)
class Hyperparameters:
    """What training needs besides the data. `learning_rate` is a fraction of the largest step
    that cannot diverge (1/L, L the largest eigenvalue of the inputs' second-moment matrix), so
    1.0 is both safe and fast on any series; `epochs` is a ceiling that early stopping rarely
    reaches."""

    window_size: int = 24
    epochs: int = 10_000
    learning_rate: float = 1.0
    patience: int = 100
    tolerance: float = 1e-9
    seed: int = 42

    def __post_init__(self) -> None:
        check_window_size(self.window_size)
        _check_int("epochs", self.epochs, minimum=1)
        _check_int("patience", self.patience, minimum=1)
        _check_int("seed", self.seed, minimum=0)
        if not isinstance(self.learning_rate, (int, float)) or not 0.0 < self.learning_rate <= 1.0:
            raise ForecastInputError(
                f"learning_rate must be in (0, 1] (a fraction of the largest stable step), "
                f"got {self.learning_rate!r}"
            )
        if not isinstance(self.tolerance, (int, float)) or not 0.0 <= self.tolerance < 1.0:
            raise ForecastInputError(f"tolerance must be in [0, 1), got {self.tolerance!r}")


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ForecastInputError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclass
class PerceptronForecaster:
    """Predicts the next value from the last `window_size` values.

    After `fit`, the state is `weights` and `bias` in standardised units plus the scaler's
    `mean` and `std`; that is all a saved model holds, besides its intervals and metadata.
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

    @property
    def window_size(self) -> int:
        return self.hyperparameters.window_size

    @property
    def is_fitted(self) -> bool:
        return self.weights is not None

    def fit(self, values: object, progress: ProgressCallback | None = None, progress_every: int = 1000) -> "PerceptronForecaster":
        """Fit on a training series (oldest first). `progress(epoch, loss)` is called every
        `progress_every` epochs and at the end, for logs of long trainings."""
        hp = self.hyperparameters
        series = as_series(values)
        if len(series) < 2 * hp.window_size + 1:
            raise ForecastInputError(
                f"too few training points: window_size={hp.window_size} needs at least "
                f"{2 * hp.window_size + 1} (as many windows as the model has parameters), got {len(series)}"
            )
        z, mean, std = _standardise(series)
        gram, moment, target_power, n = _second_moments(z, hp.window_size)
        theta, history = _nesterov(gram, moment, target_power, hp, progress, progress_every)
        if not np.all(np.isfinite(theta)):
            raise ForecastInputError("training diverged to non-finite weights; check the series for extreme values")
        self.weights = theta[:-1].copy()
        self.bias = float(theta[-1])
        self.mean, self.std = mean, std
        self.loss_history = history
        self.epochs_trained = len(history)
        self.final_loss = float(history[-1]) if len(history) else float("nan")
        self.training_samples = n
        return self

    def predict(self, windows_: object) -> np.ndarray:
        """The next value after each window: one row per window, oldest value first."""
        weights = self._require_fitted()
        x = np.asarray(windows_, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.window_size:
            got = x.shape[-1] if x.ndim >= 1 else 0
            raise ForecastInputError(
                f"each window must have window_size={self.window_size} values, got {got}"
            )
        if not np.all(np.isfinite(x)):
            raise ForecastInputError("windows must hold finite numbers only (no NaN or infinity)")
        return (x - self.mean) @ weights + (self.std * self.bias + self.mean)

    def forecast_windows(self, windows_: np.ndarray, horizon: int) -> np.ndarray:
        """Recursive multi-step forecasts for many windows at once: shape (n_windows, horizon).

        Each step feeds the previous prediction back as the newest input; the loop runs over
        the horizon, each step vectorised over all windows."""
        _check_int("horizon", horizon, minimum=1)
        x = np.asarray(windows_, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        first = self.predict(x)
        w = self.window_size
        buffer = np.empty((x.shape[0], w + horizon))
        buffer[:, :w] = x
        buffer[:, w] = first
        weights = self.weights
        offset = self.std * self.bias + self.mean
        for step in range(1, horizon):
            buffer[:, w + step] = (buffer[:, step : step + w] - self.mean) @ weights + offset
        return buffer[:, w:]

    def forecast(self, history: object, horizon: int = 1) -> np.ndarray:
        """The next `horizon` values after a history of at least `window_size` values."""
        series = as_series(history, "history")
        if len(series) < self.window_size:
            raise ForecastInputError(
                f"history needs at least window_size={self.window_size} values, got {len(series)}"
            )
        return self.forecast_windows(series[-self.window_size :], horizon)[0]

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


def _standardise(series: np.ndarray) -> tuple[np.ndarray, float, float]:
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


def _second_moments(z: np.ndarray, window_size: int) -> tuple[np.ndarray, np.ndarray, float, int]:
    """G = A'A/n, h = A'y/n and y'y/n for A = [windows, 1]: everything the MSE gradient needs.

    Gathered in chunks of rows so a million-point series never materialises its window matrix."""
    x, y = windows(z, window_size)
    n = len(y)
    d = window_size + 1
    gram = np.zeros((d, d))
    moment = np.zeros(d)
    chunk = np.empty((min(_CHUNK_ROWS, n), d))
    chunk[:, -1] = 1.0
    for start in range(0, n, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, n)
        rows = chunk[: stop - start]
        rows[:, :-1] = x[start:stop]
        gram += rows.T @ rows
        moment += rows.T @ y[start:stop]
    return gram / n, moment / n, float(y @ y) / n, n


def _nesterov(
    gram: np.ndarray,
    moment: np.ndarray,
    target_power: float,
    hp: Hyperparameters,
    progress: ProgressCallback | None,
    progress_every: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Accelerated full-batch gradient descent on loss(θ) = θ'Gθ - 2h'θ + y'y/n."""
    rng = np.random.default_rng(hp.seed)
    theta = np.concatenate([rng.normal(0.0, 0.01, len(moment) - 1), [0.0]])
    largest_curvature = float(np.linalg.eigvalsh(gram)[-1])
    step = hp.learning_rate / largest_curvature

    def loss(t: np.ndarray) -> float:
        return float(t @ gram @ t - 2.0 * moment @ t + target_power)

    look_ahead = theta.copy()
    momentum = 1.0
    current = loss(theta)
    best = current
    stalled = 0
    history = np.empty(hp.epochs)
    epoch = 0
    while epoch < hp.epochs:
        candidate = look_ahead - step * (gram @ look_ahead - moment)
        value = loss(candidate)
        if value > current:
            # Momentum overshot: restart it from a plain gradient step (O'Donoghue & Candès).
            candidate = theta - step * (gram @ theta - moment)
            value = loss(candidate)
            momentum = 1.0
        next_momentum = (1.0 + np.sqrt(1.0 + 4.0 * momentum * momentum)) / 2.0
        look_ahead = candidate + ((momentum - 1.0) / next_momentum) * (candidate - theta)
        theta, momentum, current = candidate, next_momentum, value
        history[epoch] = max(current, 0.0)
        epoch += 1
        if progress is not None and epoch % progress_every == 0:
            progress(epoch, history[epoch - 1])
        if current < best - hp.tolerance * max(abs(best), 1e-12):
            best = current
            stalled = 0
        else:
            stalled += 1
            if stalled >= hp.patience:
                break
        if not np.isfinite(current):
            break
    if progress is not None and epoch % progress_every != 0:
        progress(epoch, history[epoch - 1])
    return theta, history[:epoch]
