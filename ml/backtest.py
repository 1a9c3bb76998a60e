"""Rolling-origin backtest: how a way of fitting would have done, using only the values given.

The last points of the given series are cut into `folds` consecutive test blocks of `horizon`
points. For each block the model is fitted on everything before it (an expanding window) and
scored on the block: one-step forecasts (each from the actual values before it) against the
naive and seasonal-naive baselines on the same points, and recursive multi-step forecasts from
every origin in the block. A caller passes only its training part, so a final holdout is never
seen; nothing here reads a value at or after a block while fitting for that block.

Folds are planned by `ml.folds` (`plan_folds_or_short_blocks` unless a plan is given). Multi-step
metrics go up to the block's length, at most max(MAX_STEPS, season) steps.

Units that read the calendar need the series' `times` (epoch seconds, one per value): every
function here takes them, and fits and forecasts each fold with its part of them.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ml import baselines
from ml import calendar_inputs as cal
from ml.ensemble import refit
from ml.errors import ForecastInputError
from ml.evaluation import scored
from ml.exact_backtest import one_step_errors
from ml.folds import FoldPlan, plan_folds_or_short_blocks
from ml.forecaster import Hyperparameters, PerceptronForecaster, fit_many
from ml.intervals import DEFAULT_LEVEL, calibrate
from ml.metrics import naive_scale
from ml.windows import as_series

MAX_STEPS = 48
_OWN = ("mae", "mse", "rmse", "mase")

FitFunction = Callable[[np.ndarray], PerceptronForecaster]


@dataclass(frozen=True)
class BacktestResult:
    """Scores of one way of fitting over the folds of a plan.

    `folds`: per fold, `mae`, `mse`, `rmse`, `mase` of the model's one-step forecasts and the
    same for `naive_*` and (when a season fits before the block) `seasonal_naive_*`.
    `summary`: `<metric>_mean` and `<metric>_std` across folds. `steps`: per forecast step
    1..S, `mae`, `rmse` and `count` of the recursive forecasts from every origin of every
    block, and `coverage` of the model's intervals when it has them. `predicted`/`actual`:
    the one-step forecasts of all blocks, concatenated, for scoring averages of candidates."""

    plan: FoldPlan
    folds: tuple[dict[str, float], ...]
    summary: dict[str, float]
    steps: dict[str, np.ndarray]
    predicted: np.ndarray
    actual: np.ndarray
    fit_seconds: float
    models: tuple[PerceptronForecaster, ...] = field(default=(), repr=False)

    @property
    def rmse(self) -> float:
        return self.summary["rmse_mean"]

    @property
    def rmse_std(self) -> float:
        return self.summary["rmse_std"]

    @property
    def mse(self) -> float:
        """MSE pooled over every tested point (the blocks are of equal length)."""
        return float(np.mean((self.predicted - self.actual) ** 2))

    def fold_predictions(self) -> list[np.ndarray]:
        return np.split(self.predicted, self.plan.folds)


def backtest(
    fit: Hyperparameters | FitFunction,
    values: object,
    plan: FoldPlan | None = None,
    season_length: int = 1,
    max_steps: int | None = None,
    solver: str = "descent",
    times: np.ndarray | None = None,
) -> BacktestResult:
    """Backtest one way of fitting: hyper-parameters (the folds are fitted in one batch, by
    `solver`, see `forecaster.fit_many`) or any function from a training series to a fitted
    model (e.g. `with_intervals(...)`)."""
    series = as_series(values)
    plan = plan or plan_folds_or_short_blocks(len(series), season_length)
    _check_plan(plan, series)
    if isinstance(fit, Hyperparameters):
        return backtest_many([fit], series, plan, season_length, max_steps, solver, times)[0]
    started = time.perf_counter()
    models = [fit(series[:origin].copy()) for origin in plan.origins]
    elapsed = time.perf_counter() - started
    reference = _baselines(series, plan, season_length)
    return _score(models, series, plan, season_length, max_steps, elapsed, reference, times)


def backtest_many(
    hps: Sequence[Hyperparameters],
    values: object,
    plan: FoldPlan | None = None,
    season_length: int = 1,
    max_steps: int | None = None,
    solver: str = "descent",
    times: np.ndarray | None = None,
) -> list[BacktestResult]:
    """Backtest many candidates on the same folds, every (candidate, fold) unit fitted in one
    vectorised descent (or solved exactly, `solver="exact"`). Each result's `fit_seconds` is
    its share of the batch's time, in proportion to the epochs its units trained (to their
    number of parameters for the exact solver)."""
    series = as_series(values)
    plan = plan or plan_folds_or_short_blocks(len(series), season_length)
    _check_plan(plan, series)
    if solver == "exact" and _steps(plan, season_length, max_steps) == 1:
        return _exact_one_step(hps, series, plan, season_length, times)
    trains = [series[:origin] for origin in plan.origins]
    clocks = [None if times is None else times[:origin] for origin in plan.origins]
    started = time.perf_counter()
    fitted = fit_many(
        [hp for hp in hps for _ in trains],
        [train for _ in hps for train in trains],
        solver=solver,
        times=[clock for _ in hps for clock in clocks],
    )
    elapsed = time.perf_counter() - started
    work = [model.epochs_trained if solver == "descent" else len(model.weights) for model in fitted]
    reference = _baselines(series, plan, season_length)
    results = []
    for i in range(len(hps)):
        models = fitted[i * plan.folds : (i + 1) * plan.folds]
        share = elapsed * sum(work[i * plan.folds : (i + 1) * plan.folds]) / max(1, sum(work))
        results.append(_score(models, series, plan, season_length, max_steps, share, reference, times))
    return results


def _exact_one_step(
    hps: Sequence[Hyperparameters],
    series: np.ndarray,
    plan: FoldPlan,
    season_length: int,
    times: np.ndarray | None,
) -> list[BacktestResult]:
    """`backtest_many` for exact one-step scores: every fold of a candidate at once
    (`exact_backtest`), all candidates scored in arrays. The same results as the general path
    up to rounding, without fitted models to return."""
    started = time.perf_counter()
    errors = one_step_errors(hps, series, plan.origins, plan.horizon, times)
    elapsed = time.perf_counter() - started
    reference = _baselines(series, plan, season_length)
    scales = np.array([scale for scale, _ in reference])
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # as in metrics: inf is a score
        squared = errors * errors
        mae, mse = np.abs(errors).mean(axis=2), squared.mean(axis=2)
        mase = np.where(np.isfinite(scales) & (scales != 0.0), mae / scales, np.nan)
    table = np.stack([mae, mse, np.sqrt(mse), mase], axis=2)  # candidate, fold, metric
    means, spreads = table.mean(axis=1).tolist(), table.std(axis=1).tolist()
    per_fold = table.tolist()
    step_mae, step_mse = mae.mean(axis=1).tolist(), mse.mean(axis=1).tolist()  # the blocks are of equal length
    baseline_summary = _summary([metrics for _, metrics in reference])
    actual = series[plan.first_origin :]
    predicted = actual - errors.reshape(len(hps), -1)
    sizes = [hp.parameters for hp in hps]
    results = []
    for i, size in enumerate(sizes):
        summary = {}
        for name, mean, spread in zip(_OWN, means[i], spreads[i], strict=True):
            summary[f"{name}_mean"], summary[f"{name}_std"] = mean, spread
        summary.update(baseline_summary)
        results.append(
            BacktestResult(
                plan=plan,
                folds=tuple(
                    {**dict(zip(_OWN, fold, strict=True)), **metrics}
                    for fold, (_, metrics) in zip(per_fold[i], reference, strict=True)
                ),
                summary=summary,
                steps={
                    "mae": np.array([step_mae[i]]),
                    "rmse": np.sqrt([step_mse[i]]),
                    "count": np.array([float(errors[i].size)]),
                },
                predicted=predicted[i],
                actual=actual.copy(),
                fit_seconds=elapsed * size / sum(sizes),
            )
        )
    return results


def _summary(folds: Sequence[dict[str, float]]) -> dict[str, float]:
    """`<name>_mean` and `<name>_std` across folds of every metric all folds have."""
    names = [name for name in folds[0] if all(name in fold for fold in folds)]
    table = np.array([[fold[name] for name in names] for fold in folds])
    summary = {}
    for name, mean, spread in zip(names, table.mean(axis=0), table.std(axis=0), strict=True):
        summary[f"{name}_mean"], summary[f"{name}_std"] = float(mean), float(spread)
    return summary


def backtest_refits(
    models: Sequence[PerceptronForecaster],
    values: object,
    plan: FoldPlan | None = None,
    season_length: int = 1,
    max_steps: int | None = 1,
    times: np.ndarray | None = None,
) -> list[BacktestResult]:
    """Backtest fitted models on the same folds, each refitted by its own recipe on every fold's
    training part (`ensemble.refit`): two versions compared as they were built, not as one split
    happened to favour them. One-step scores by default."""
    series = as_series(values)
    plan = plan or plan_folds_or_short_blocks(len(series), season_length)
    _check_plan(plan, series)
    reference = _baselines(series, plan, season_length)
    results = []
    for model in models:
        started = time.perf_counter()
        clocks = [None if times is None else times[:origin] for origin in plan.origins]
        fitted = refit(model, [series[:origin] for origin in plan.origins], clocks)
        elapsed = time.perf_counter() - started
        results.append(_score(fitted, series, plan, season_length, max_steps, elapsed, reference, times))
    return results


def with_intervals(hp: Hyperparameters, level: float = DEFAULT_LEVEL, calibration_share: float = 0.2) -> FitFunction:
    """Fitting as the training pipeline does it, inside each fold: fit on the first part of the
    fold's training series, calibrate intervals on the rest, so the backtest measures how
    well such intervals cover the next block."""

    def fit(train: np.ndarray) -> PerceptronForecaster:
        start = len(train) - max(1, int(round(calibration_share * len(train))))
        model = PerceptronForecaster(hp).fit(train[:start])
        model.intervals = calibrate(model.forecast_windows, train, start, model.window_size, level)
        return model

    return fit


def _steps(plan: FoldPlan, season_length: int, max_steps: int | None) -> int:
    """Forecast steps scored from each origin: up to the block's length."""
    return min(plan.horizon, max(MAX_STEPS, season_length) if max_steps is None else max_steps)


def _check_plan(plan: FoldPlan, series: np.ndarray) -> None:
    if plan.n_points != len(series) or plan.origins[-1] + plan.horizon > len(series):
        raise ForecastInputError(f"the fold plan is for {plan.n_points} points, the series has {len(series)}")


def _baselines(series: np.ndarray, plan: FoldPlan, season_length: int) -> list[tuple[float, dict[str, float]]]:
    """Per fold: MASE's scale (the naive in-sample MAE before the block) and the baselines' metrics."""
    reference = []
    for origin in plan.origins:
        stop = origin + plan.horizon
        actual = series[origin:stop]
        scale = naive_scale(series[:origin])
        metrics = scored("naive_", actual, baselines.naive(series[:stop], origin), scale)
        if 1 < season_length <= origin:
            metrics.update(
                scored("seasonal_naive_", actual, baselines.seasonal_naive(series[:stop], origin, season_length), scale)
            )
        reference.append((scale, metrics))
    return reference


def _score(
    models: Sequence[PerceptronForecaster],
    series: np.ndarray,
    plan: FoldPlan,
    season_length: int,
    max_steps: int | None,
    fit_seconds: float,
    reference: list[tuple[float, dict[str, float]]],
    times: np.ndarray | None = None,
) -> BacktestResult:
    block = plan.horizon
    steps = _steps(plan, season_length, max_steps)
    folds, predicted_blocks, errors, inside = [], [], [], []
    for model, origin, (scale, baseline) in zip(models, plan.origins, reference, strict=True):
        w = model.window_size
        if origin < w:
            raise ForecastInputError(f"a fold starts at point {origin}, before the model's window of {w}")
        stop = origin + block
        actual = series[origin:stop]
        inputs = sliding_window_view(series[origin - w : stop], w)
        clock = None if times is None else cal.known_ahead(times, np.arange(origin, stop), steps)
        forecasts = model.forecast_windows(inputs[:block], steps, clock)
        predicted = forecasts[:, 0]
        folds.append({**scored("", actual, predicted, scale), **baseline})
        predicted_blocks.append(predicted)
        targets = origin + np.arange(block)[:, None] + np.arange(steps)[None, :]
        valid = targets < stop
        truth = np.where(valid, series[np.minimum(targets, stop - 1)], np.nan)
        errors.append(truth - forecasts)
        if model.intervals is not None:
            lower, upper = model.bounds(forecasts)
            inside.append(np.where(valid, (truth >= lower) & (truth <= upper), np.nan))
    error_matrix = np.vstack(errors)
    by_step = {
        "mae": np.nanmean(np.abs(error_matrix), axis=0),
        "rmse": np.sqrt(np.nanmean(error_matrix * error_matrix, axis=0)),
        "count": np.sum(~np.isnan(error_matrix), axis=0).astype(float),
    }
    if len(inside) == len(models):
        by_step["coverage"] = np.nanmean(np.vstack(inside), axis=0)
    return BacktestResult(
        plan=plan,
        folds=tuple(folds),
        summary=_summary(folds),
        steps=by_step,
        predicted=np.concatenate(predicted_blocks),
        actual=series[plan.origins[0] : plan.origins[-1] + block].copy(),
        fit_seconds=float(fit_seconds),
        models=tuple(models),
    )
