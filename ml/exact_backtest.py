"""One-step backtest errors of a linear unit on every fold at once, solved exactly.

Selection scores dozens of candidates on a few expanding-window folds by their one-step errors,
and fitting each (candidate, fold) unit on its own spent most of the search in per-unit
overhead. The folds share everything but their last rows: differencing is causal, so a fold's
differenced series is a prefix of the whole one; the fit is affine-equivariant, so one
standardisation (the first fold's) serves every fold; and the blocks are of equal length, so
each fold's second moments are the previous fold's plus one block's. One design matrix per
candidate then gives every fold's least-squares optimum in one batched solve, and its one-step
forecasts in one product. A one-step error on the differenced series is the error on the raw
series (the differencing's other terms are known values), so nothing is integrated back.

`backtest.backtest_many(..., solver="exact", max_steps=1)` uses it; the general path (a unit
per fold, served weights on raw windows) gives the same errors up to rounding.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ml import calendar_inputs as cal
from ml import differencing as diff
from ml.errors import ForecastInputError
from ml.least_squares import standardise

if TYPE_CHECKING:
    from ml.forecaster import Hyperparameters

_WELL_POSED = 1e6  # larger weights on standardised inputs mean near-collinear inputs


def one_step_errors(
    hps: Sequence["Hyperparameters"],
    series: np.ndarray,
    origins: Sequence[int],
    horizon: int,
    times: np.ndarray | None = None,
) -> np.ndarray:
    """Actual minus forecast, shape (candidates, folds, horizon): fold k's unit is the candidate's
    least-squares optimum on series[:origins[k]], forecasting each point of its block from the
    actual values before it. The blocks must be consecutive and end the series."""
    first, folds = int(origins[0]), len(origins)
    if first + folds * horizon != len(series):
        raise ForecastInputError(f"the folds cover {first + folds * horizon} points, the series has {len(series)}")
    standardised: dict[tuple[str, int], tuple[np.ndarray, int, float]] = {}
    calendars: dict[tuple[float, int], np.ndarray] = {}
    systems = []
    for hp in hps:
        key = (hp.differencing, hp.season_length)
        if key not in standardised:
            transformed = diff.difference(series, *key)
            lost = len(series) - len(transformed)
            _, mean, std = standardise(transformed[: first - lost])
            standardised[key] = ((transformed - mean) / std, lost, std)
        z, lost, std = standardised[key]
        terms = None
        if hp.calendar_harmonics:
            cycle = (hp.calendar_period, hp.calendar_harmonics)
            if cycle not in calendars:
                clock = cal.require_times(times, len(series), "training series'")
                calendars[cycle] = cal.features(clock, *cycle)
            terms = calendars[cycle]
        systems.append(_System.of(hp, z, lost, first, folds, horizon, terms, std))
    errors = np.empty((len(hps), folds, horizon))
    for width in {system.gram.shape[-1] for system in systems}:
        same = [i for i, system in enumerate(systems) if system.gram.shape[-1] == width]
        thetas = _solve(
            np.concatenate([systems[i].gram for i in same]), np.concatenate([systems[i].moment for i in same])
        ).reshape(len(same), folds, width)
        for i, theta in zip(same, thetas, strict=True):
            errors[i] = systems[i].errors(theta)
    return errors


@dataclass(frozen=True)
class _System:
    """One candidate's normal equations on every fold, in standardised units of its differenced
    series, and its test blocks."""

    gram: np.ndarray
    moment: np.ndarray
    blocks: np.ndarray
    targets: np.ndarray
    std: float

    @classmethod
    def of(
        cls,
        hp: "Hyperparameters",
        z: np.ndarray,
        lost: int,
        first: int,
        folds: int,
        horizon: int,
        terms: np.ndarray | None,
        std: float,
    ) -> "_System":
        """`z`: the standardised differenced series, `lost` points shorter than the raw one;
        `terms`: the calendar terms at every raw point, for a unit that reads them."""
        lags = diff.input_lags(hp.window_size, hp.season_length, hp.seasonal_lags)
        span, lagged = int(lags[-1]), len(lags)
        rows = len(z) - span
        width = lagged + 2 * hp.calendar_harmonics + 1
        train = first - lost - span  # rows whose target precedes the first block
        if train < width:
            raise ForecastInputError(
                f"too few training points: {hp.describe()} needs at least {lost + span + width}, "
                f"the first fold has {first}"
            )
        design = np.empty((rows, width))
        design[:, :lagged] = z[np.arange(rows)[:, None] + (span - lags[::-1])]
        if terms is not None:
            design[:, lagged:-1] = terms[lost + span :]
        design[:, -1] = 1.0
        y = z[span:]
        head, blocks = design[:train], design[train:].reshape(folds, horizon, width)
        targets = y[train:].reshape(folds, horizon)
        gram = np.empty((folds, width, width))
        moment = np.empty((folds, width))
        gram[0], moment[0] = head.T @ head, head.T @ y[:train]
        if folds > 1:
            earlier = blocks[:-1]
            gram[1:] = gram[0] + np.cumsum(np.matmul(earlier.transpose(0, 2, 1), earlier), axis=0)
            moment[1:] = moment[0] + np.cumsum(np.matmul(targets[:-1, None, :], earlier)[:, 0], axis=0)
        return cls(gram, moment, blocks, targets, std)

    def errors(self, theta: np.ndarray) -> np.ndarray:
        """Actual minus forecast in the raw series' units, given each fold's optimum."""
        return (self.targets - np.matmul(self.blocks, theta[:, :, None])[:, :, 0]) * self.std


def _solve(gram: np.ndarray, moment: np.ndarray) -> np.ndarray:
    """Each system's optimum: a direct solve, or, where the inputs are (nearly) collinear, the
    minimum-norm optimum with np.linalg.lstsq's cut-off, as the general path finds it."""
    try:
        theta = np.linalg.solve(gram, moment[..., None])[..., 0]
    except np.linalg.LinAlgError:  # one exactly singular system fails the whole stack
        theta = np.full(moment.shape, np.nan)
        for k in range(len(gram)):
            try:
                theta[k] = np.linalg.solve(gram[k], moment[k])
            except np.linalg.LinAlgError:
                pass
    with np.errstate(invalid="ignore"):
        awkward = ~(np.abs(theta).max(axis=1) <= _WELL_POSED)  # also NaN
    if awkward.any():
        cutoff = np.finfo(float).eps * gram.shape[-1]
        inverse = np.linalg.pinv(gram[awkward], rcond=cutoff, hermitian=True)
        theta[awkward] = np.matmul(inverse, moment[awkward][:, :, None])[:, :, 0]
    return theta
