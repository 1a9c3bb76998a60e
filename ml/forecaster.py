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

Options keep it one linear unit: the series can be differenced first (once, twice, seasonally,
or seasonally and once) and the unit can read extra seasonal lags; `ml.differencing` turns the
unit trained on the transformed series into the equivalent unit on a longer raw window, which is
all that is served. `fit_many` trains many units in one vectorised descent (the folds of a
backtest, the members of an ensemble): each takes the steps it would take alone.
"""

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ml import differencing as diff
from ml.errors import ForecastInputError
from ml.intervals import PredictionIntervals
from ml.windows import as_series, check_window_size, windows

ProgressCallback = Callable[[int, float], None]

_CHUNK_ROWS = 65_536
SOLVERS = ("descent", "exact")


@dataclass(frozen=True)
class Hyperparameters:
    """What training needs besides the data. `learning_rate` is a fraction of the largest step
    that cannot diverge (1/L, L the largest eigenvalue of the inputs' second-moment matrix), so
    1.0 is both safe and fast on any series; `epochs` is a ceiling that early stopping rarely
    reaches. `window_size` counts values of the (differenced) series the unit reads; the raw
    window a caller sends is `effective_window`, longer by the differencing order and reaching
    back to the last seasonal lag."""

    window_size: int = 24
    epochs: int = 10_000
    learning_rate: float = 1.0
    patience: int = 100
    tolerance: float = 1e-9
    seed: int = 42
    differencing: str = "none"
    season_length: int = 1
    seasonal_lags: int = 0

    def __post_init__(self) -> None:
        check_window_size(self.window_size)
        diff.check_structure(self.window_size, self.differencing, self.season_length, self.seasonal_lags)
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
        """Weights on the (differenced) series plus the bias."""
        return len(diff.input_lags(self.window_size, self.season_length, self.seasonal_lags)) + 1

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
        return text + (f" +{self.seasonal_lags} seasonal lags" if self.seasonal_lags else "")


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

    @classmethod
    def of(cls, hp: Hyperparameters, weight: float = 1.0, backtest_rmse: float | None = None) -> "Member":
        return cls(hp.window_size, hp.differencing, hp.season_length, hp.seasonal_lags, weight, backtest_rmse)

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
    plus the scaler's `mean` and `std`: predict = (window - mean) @ weights + std * bias + mean.
    That affine form holds any linear unit on a raw window, so a differenced unit or an ensemble
    (`ml.ensemble.combine`) is served the same way; `members` records how it was built.
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
        self, values: object, progress: ProgressCallback | None = None, progress_every: int = 1000
    ) -> "PerceptronForecaster":
        """Fit on a training series (oldest first). `progress(epoch, loss)` is called every
        `progress_every` epochs and at the end, for logs of long trainings."""
        series = as_series(values)
        (fitted,) = fit_many([self.hyperparameters], [series], progress, progress_every, [self])
        return fitted

    def predict(self, windows_: object) -> np.ndarray:
        """The next value after each window: one row per window, oldest value first."""
        weights = self._require_fitted()
        x = np.asarray(windows_, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.window_size:
            got = x.shape[-1] if x.ndim >= 1 else 0
            raise ForecastInputError(f"each window must have window_size={self.window_size} values, got {got}")
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

    def forecast_last(self, window: np.ndarray, horizon: int) -> tuple[list[float], list[float], list[float]]:
        """Forecasts and interval bounds after one window already checked (its length, finite
        values), as Python floats: the shape of a request. One step is one dot product; more
        steps go through `forecast_windows`."""
        weights = self._require_fitted()
        if horizon == 1:
            value = float((window - self.mean) @ weights) + (self.std * self.bias + self.mean)
            if self.intervals is None:
                return [value], [value], [value]
            lower, upper = self.intervals.offsets(1)
            return [value], [value + float(lower[0])], [value + float(upper[0])]
        point = self.forecast_windows(window[None, :], horizon)
        lower, upper = self.bounds(point)
        return point[0].tolist(), lower[0].tolist(), upper[0].tolist()

    def forecast(self, history: object, horizon: int = 1) -> np.ndarray:
        """The next `horizon` values after a history of at least `window_size` values."""
        series = as_series(history, "history")
        if len(series) < self.window_size:
            raise ForecastInputError(f"history needs at least window_size={self.window_size} values, got {len(series)}")
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


def fit_many(
    hps: Sequence[Hyperparameters],
    series: Sequence[np.ndarray],
    progress: ProgressCallback | None = None,
    progress_every: int = 1000,
    into: Sequence[PerceptronForecaster] | None = None,
    solver: str = "descent",
) -> list[PerceptronForecaster]:
    """Fit one unit per (hyper-parameters, training series) pair in a single vectorised descent.

    Each unit gets the result it would get alone, up to rounding (its own start, step, momentum
    and early stop); batching only shares the per-epoch numpy overhead, which dominates for
    small units.
    `series` must be finite float vectors (see `as_series`); `progress` follows the first unit.

    `solver="exact"` solves the same least-squares problem directly instead (the optimum the
    descent converges to, `epochs_trained` 0): a fast stand-in for scoring many candidates in a
    backtest. Served models are trained by the descent."""
    if solver not in SOLVERS:
        raise ForecastInputError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    models = list(into) if into is not None else [PerceptronForecaster(hp) for hp in hps]
    raw_scales: dict[int, tuple[float, float]] = {}
    problems = [_problem(hp, values, raw_scales) for hp, values in zip(hps, series, strict=True)]
    if solver == "exact":
        thetas = [p.exact() for p in problems]
        histories = [np.array([max(p.loss(theta), 0.0)]) for p, theta in zip(problems, thetas, strict=True)]
    else:
        thetas, histories = _nesterov(
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
    return models


@dataclass(frozen=True)
class _Problem:
    """One unit's least-squares problem in standardised units of its (differenced) series."""

    hp: Hyperparameters
    gram: np.ndarray
    moment: np.ndarray
    target_power: float
    samples: int
    lags: np.ndarray
    scale: tuple[float, float]
    raw_scale: tuple[float, float]

    def exact(self) -> np.ndarray:
        """The least-squares optimum (minimum norm when the inputs are collinear)."""
        return np.linalg.lstsq(self.gram, self.moment, rcond=None)[0]

    def loss(self, theta: np.ndarray) -> float:
        return float(theta @ self.gram @ theta - 2.0 * self.moment @ theta + self.target_power)

    def served(self, theta: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """(weights, bias, mean, std) of the equivalent unit on the raw window."""
        hp = self.hp
        if hp.differencing == "none" and hp.seasonal_lags == 0:
            return theta[:-1].copy(), float(theta[-1]), *self.scale
        # Weights by lag on the differenced series, then in its own units: d̂ = a·d + intercept.
        mean, std = self.scale
        by_lag = np.zeros(self.lags[-1])
        by_lag[self.lags[::-1] - 1] = theta[:-1]
        intercept = std * float(theta[-1]) + mean * (1.0 - float(by_lag.sum()))
        weights, intercept = diff.raw_unit(by_lag, intercept, hp.differencing, hp.season_length)
        raw_mean, raw_std = self.raw_scale
        bias = (intercept - raw_mean + raw_mean * float(weights.sum())) / raw_std
        return weights, bias, raw_mean, raw_std


def _problem(hp: Hyperparameters, values: np.ndarray, raw_scales: dict[int, tuple[float, float]]) -> _Problem:
    """The unit's least-squares problem; `raw_scales` caches the scaler of each training series
    (by identity) across the units of one batch."""
    if len(values) < hp.minimum_points:
        what = "" if hp.differencing == "none" and hp.seasonal_lags == 0 else f" ({hp.describe()})"
        raise ForecastInputError(
            f"too few training points: window_size={hp.window_size}{what} needs at least "
            f"{hp.minimum_points} (as many windows as the model has parameters), got {len(values)}"
        )
    transformed = diff.difference(values, hp.differencing, hp.season_length)
    z, mean, std = _standardise(transformed)
    lags = diff.input_lags(hp.window_size, hp.season_length, hp.seasonal_lags)
    span = int(lags[-1])
    columns = None if len(lags) == span else span - lags[::-1]
    gram, moment, target_power, n = _second_moments(z, span, columns)
    if transformed is values:
        raw_scales.setdefault(id(values), (mean, std))
    elif id(values) not in raw_scales:
        raw_scales[id(values)] = _standardise(values)[1:]
    raw_scale = raw_scales[id(values)]
    return _Problem(hp, gram, moment, target_power, n, lags, (mean, std), raw_scale)


def _second_moments(
    z: np.ndarray, window_size: int, columns: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """G = A'A/n, h = A'y/n and y'y/n for A = [windows, 1]: everything the MSE gradient needs.
    `columns` picks positions of the window (oldest first) when the unit reads only some lags.

    Gathered in chunks of rows so a million-point series never materialises its window matrix."""
    x, y = windows(z, window_size)
    n = len(y)
    d = (window_size if columns is None else len(columns)) + 1
    gram = np.zeros((d, d))
    moment = np.zeros(d)
    chunk = np.empty((min(_CHUNK_ROWS, n), d))
    chunk[:, -1] = 1.0
    for start in range(0, n, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, n)
        rows = chunk[: stop - start]
        rows[:, :-1] = x[start:stop] if columns is None else x[start:stop][:, columns]
        gram += rows.T @ rows
        moment += rows.T @ y[start:stop]
    return gram / n, moment / n, float(y @ y) / n, n


def _nesterov(
    grams: Sequence[np.ndarray],
    moments: Sequence[np.ndarray],
    target_powers: Sequence[float],
    hps: Sequence[Hyperparameters],
    progress: ProgressCallback | None,
    progress_every: int,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Accelerated full-batch gradient descent on loss(θ) = θ'Gθ - 2h'θ + y'y/n, for a batch of
    units at once: each row of the state is one unit, padded with zeros to the largest (a padded
    coordinate has zero gradient and stays zero). A unit leaves the batch when it stops; the last
    one left, like a batch of one, goes on in the scalar loop, which has less overhead per epoch."""
    b = len(grams)
    if b == 1:
        theta, history = _nesterov_one(grams[0], moments[0], target_powers[0], hps[0], progress, progress_every)
        return [theta], [history]
    sizes = [len(h) for h in moments]
    size = max(sizes)
    gram = np.zeros((b, size, size))
    moment = np.zeros((b, size))
    start = np.zeros((b, size))
    for i, (g, h, hp) in enumerate(zip(grams, moments, hps, strict=True)):
        gram[i, : sizes[i], : sizes[i]], moment[i, : sizes[i]] = g, h
        start[i, : sizes[i] - 1] = np.random.default_rng(hp.seed).normal(0.0, 0.01, sizes[i] - 1)
    power = np.asarray(target_powers, dtype=np.float64)
    step = np.array([hp.learning_rate for hp in hps]) / np.linalg.eigvalsh(gram)[:, -1]
    patience = np.array([hp.patience for hp in hps])
    tolerance = np.array([hp.tolerance for hp in hps])
    max_epochs = np.array([hp.epochs for hp in hps])
    # The momentum after k steps since the last restart depends on k alone.
    momenta, coefficients = _momentum_table(int(max_epochs.max()) + 1)

    final = start.copy()
    histories: list[list[np.ndarray]] = [[] for _ in range(b)]
    live = np.arange(b)
    theta, look_ahead = start, start.copy()
    since = np.zeros(b, dtype=int)
    current = _loss(theta, _times(gram, theta), 2.0 * moment, power)
    best = current.copy()
    threshold = current - tolerance * np.maximum(np.abs(current), 1e-12)
    stalled = np.zeros(b, dtype=int)
    epoch = 0
    while len(live):
        if len(live) == 1 and epoch > 0:
            unit, d = int(live[0]), sizes[int(live[0])]
            resume = (
                theta[0, :d],
                look_ahead[0, :d],
                float(momenta[since[0]]),
                float(current[0]),
                float(best[0]),
                int(stalled[0]),
                epoch,
            )
            final[unit, :d], tail = _nesterov_one(
                grams[unit],
                moments[unit],
                target_powers[unit],
                hps[unit],
                progress if unit == 0 else None,
                progress_every,
                resume,
            )
            histories[unit].append(tail)
            break
        g, h, c, lr = gram[live], moment[live], power[live], step[live][:, None]
        h2, tol, wait, limit = 2.0 * h, tolerance[live], patience[live], max_epochs[live]
        first_limit = int(limit.min())
        history = np.empty((len(live), int(limit.max()) - epoch))
        first = epoch
        report = progress is not None and live[0] == 0
        while True:
            candidate = look_ahead - lr * (_times(g, look_ahead) - h)
            value = _loss(candidate, _times(g, candidate), h2, c)
            over = value > current
            if over.any():
                # Momentum overshot: restart it from a plain gradient step (O'Donoghue & Candès).
                t, gt = theta[over], g[over]
                candidate[over] = t - lr[over] * (_times(gt, t) - h[over])
                value[over] = _loss(candidate[over], _times(gt, candidate[over]), h2[over], c[over])
                since[over] = 0
            look_ahead = candidate + coefficients[since][:, None] * (candidate - theta)
            since += 1
            theta, current = candidate, value
            history[:, epoch - first] = current
            epoch += 1
            if report and epoch % progress_every == 0:
                progress(epoch, max(float(current[0]), 0.0))
            improved = current < threshold
            if improved.any():
                threshold = np.where(improved, current - tol * np.maximum(np.abs(current), 1e-12), threshold)
                best = np.where(improved, current, best)
                stalled[improved] = -1
            stalled += 1
            done = stalled >= wait
            if epoch >= first_limit:
                done |= epoch >= limit
            if done.any():
                break
        kept = history[:, : epoch - first]
        for row, unit in enumerate(live):
            histories[unit].append(np.maximum(kept[row], 0.0))
        final[live[done]] = theta[done]
        if report and done[0] and epoch % progress_every != 0:
            progress(epoch, max(float(current[0]), 0.0))
        keep = ~done
        live, theta, look_ahead = live[keep], theta[keep], look_ahead[keep]
        since, current, threshold, stalled = since[keep], current[keep], threshold[keep], stalled[keep]
        best = best[keep]
    return [final[i, : sizes[i]] for i in range(b)], [np.concatenate(parts) for parts in histories]


@functools.lru_cache(maxsize=4)
def _momentum_table(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """m_k and (m_k - 1) / m_(k+1) for k = 0..steps-1, with m_0 = 1 and
    m_(k+1) = (1 + sqrt(1 + 4 m_k²)) / 2: Nesterov's momentum k steps after a restart."""
    momentum = np.empty(steps + 1)
    momentum[0] = 1.0
    for k in range(steps):
        momentum[k + 1] = (1.0 + np.sqrt(1.0 + 4.0 * momentum[k] * momentum[k])) / 2.0
    coefficients = (momentum[:-1] - 1.0) / momentum[1:]
    momentum.flags.writeable = coefficients.flags.writeable = False
    return momentum, coefficients


def _nesterov_one(
    gram: np.ndarray,
    moment: np.ndarray,
    target_power: float,
    hp: Hyperparameters,
    progress: ProgressCallback | None,
    progress_every: int,
    resume: tuple | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The same descent for a single unit, on plain floats; from the start, or from the state
    `resume` = (θ, look-ahead, momentum, loss, best loss, epochs stalled, epoch) the batched
    loop left it in. Returns θ and the losses of the epochs run here."""
    largest_curvature = float(np.linalg.eigvalsh(gram)[-1])
    step = hp.learning_rate / largest_curvature

    def loss(t: np.ndarray) -> float:
        return float(t @ gram @ t - 2.0 * moment @ t + target_power)

    if resume is None:
        rng = np.random.default_rng(hp.seed)
        theta = np.concatenate([rng.normal(0.0, 0.01, len(moment) - 1), [0.0]])
        look_ahead, momentum, current, stalled, epoch = theta.copy(), 1.0, loss(theta), 0, 0
        best = current
    else:
        theta, look_ahead, momentum, current, best, stalled, epoch = resume
        theta, look_ahead = theta.copy(), look_ahead.copy()
    first = epoch
    history = np.empty(hp.epochs)
    while epoch < hp.epochs:
        candidate = look_ahead - step * (gram @ look_ahead - moment)
        value = loss(candidate)
        if value > current:
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
    return theta, history[first:epoch]


def _loss(theta: np.ndarray, g_theta: np.ndarray, twice_moment: np.ndarray, power: np.ndarray) -> np.ndarray:
    """θ'Gθ - 2h'θ + y'y/n per row, given Gθ and 2h."""
    return np.einsum("bi,bi->b", theta, g_theta - twice_moment) + power


def _times(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Row-wise matrix-vector products: (b, d, d) x (b, d) -> (b, d)."""
    return np.matmul(matrices, vectors[:, :, None])[:, :, 0]
