"""The descent that trains linear units: full-batch gradient descent on a quadratic loss.

Plain gradient descent with a fixed small step (the original system's 100 epochs at 0.01) stops
far from the optimum on the strongly correlated inputs a sliding window makes, and a larger step
diverges. So the step is scaled by the largest curvature of the loss (the step that cannot
diverge), Nesterov momentum with adaptive restart carries it through the ill-conditioned
directions, and training stops as soon as the loss is provably within `tolerance` of its
optimum (the gradient bounds the gap: θ'Gθ - 2h'θ exceeds its minimum by at most
|Gθ - h|² / λ_min(G)), or, where G is too ill-conditioned for that bound to bite, once the loss
stops improving for `patience` epochs. Many units descend at once, vectorised, each taking the
steps it would take alone.
"""

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ml.forecaster import Hyperparameters

ProgressCallback = Callable[[int, float], None]


def nesterov(
    grams: Sequence[np.ndarray],
    moments: Sequence[np.ndarray],
    target_powers: Sequence[float],
    hps: Sequence["Hyperparameters"],
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
    smallest, largest = np.empty(b), np.empty(b)
    for i, (g, h, hp) in enumerate(zip(grams, moments, hps, strict=True)):
        gram[i, : sizes[i], : sizes[i]], moment[i, : sizes[i]] = g, h
        start[i, : sizes[i] - 1] = np.random.default_rng(hp.seed).normal(0.0, 0.01, sizes[i] - 1)
        smallest[i], largest[i] = _curvatures(g)
    power = np.asarray(target_powers, dtype=np.float64)
    step = np.array([hp.learning_rate for hp in hps]) / largest
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
        g, h, c, lr, least = gram[live], moment[live], power[live], step[live][:, None], smallest[live]
        h2, tol, wait, limit = 2.0 * h, tolerance[live], patience[live], max_epochs[live]
        first_limit = int(limit.min())
        history = np.empty((len(live), int(limit.max()) - epoch))
        first = epoch
        report = progress is not None and live[0] == 0
        while True:
            candidate = look_ahead - lr * (_times(g, look_ahead) - h)
            g_candidate = _times(g, candidate)
            value = _loss(candidate, g_candidate, h2, c)
            over = value > current
            if over.any():
                # Momentum overshot: restart it from a plain gradient step (O'Donoghue & Candès).
                t, gt = theta[over], g[over]
                candidate[over] = t - lr[over] * (_times(gt, t) - h[over])
                g_candidate[over] = _times(gt, candidate[over])
                value[over] = _loss(candidate[over], g_candidate[over], h2[over], c[over])
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
            residual = g_candidate - h
            # The gap to the optimum, |r|² / λ_min, within tolerance (never when λ_min is 0).
            certified = np.einsum("bi,bi->b", residual, residual) <= tol * np.maximum(np.abs(current), 1e-12) * least
            done = (stalled >= wait) | certified
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
    hp: "Hyperparameters",
    progress: ProgressCallback | None,
    progress_every: int,
    resume: tuple | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The same descent for a single unit, on plain floats; from the start, or from the state
    `resume` = (θ, look-ahead, momentum, loss, best loss, epochs stalled, epoch) the batched
    loop left it in. Returns θ and the losses of the epochs run here."""
    smallest, largest = _curvatures(gram)
    step = hp.learning_rate / largest
    twice_moment = 2.0 * moment

    def loss(t: np.ndarray, g_t: np.ndarray) -> float:
        return float(t @ (g_t - twice_moment) + target_power)

    if resume is None:
        rng = np.random.default_rng(hp.seed)
        theta = np.concatenate([rng.normal(0.0, 0.01, len(moment) - 1), [0.0]])
        look_ahead, momentum, current, stalled, epoch = theta.copy(), 1.0, loss(theta, gram @ theta), 0, 0
        best = current
    else:
        theta, look_ahead, momentum, current, best, stalled, epoch = resume
        theta, look_ahead = theta.copy(), look_ahead.copy()
    first = epoch
    history = np.empty(hp.epochs)
    while epoch < hp.epochs:
        candidate = look_ahead - step * (gram @ look_ahead - moment)
        g_candidate = gram @ candidate
        value = loss(candidate, g_candidate)
        if value > current:
            candidate = theta - step * (gram @ theta - moment)
            g_candidate = gram @ candidate
            value = loss(candidate, g_candidate)
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
        residual = g_candidate - moment
        if residual @ residual <= hp.tolerance * max(abs(current), 1e-12) * smallest:
            break
    if progress is not None and epoch % progress_every != 0:
        progress(epoch, history[epoch - 1])
    return theta, history[first:epoch]


def _curvatures(gram: np.ndarray) -> tuple[float, float]:
    """The smallest and largest eigenvalues of G: the bound's and the step's curvatures. The
    smallest is 0 when the inputs are collinear (no bound: training ends by patience)."""
    eigenvalues = np.linalg.eigvalsh(gram)
    return max(float(eigenvalues[0]), 0.0), float(eigenvalues[-1])


def _loss(theta: np.ndarray, g_theta: np.ndarray, twice_moment: np.ndarray, power: np.ndarray) -> np.ndarray:
    """θ'Gθ - 2h'θ + y'y/n per row, given Gθ and 2h."""
    return np.einsum("bi,bi->b", theta, g_theta - twice_moment) + power


def _times(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Row-wise matrix-vector products: (b, d, d) x (b, d) -> (b, d)."""
    return np.matmul(matrices, vectors[:, :, None])[:, :, 0]
