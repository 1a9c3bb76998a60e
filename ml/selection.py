"""Automatic model selection: which linear units to serve, decided by the backtest alone.

The candidates are linear units of different windows, differencing, seasonal lags and calendar
terms, sized to the sampling step and the length of the series (`candidates.candidate_grid`).
Each is scored on the same rolling-origin folds of the training part (`score_candidate`, pure,
so a caller can run and log candidates one by one). Three ways to turn the scores into a model
compete: the default fixed window, the best single candidate, and an ensemble of the best
candidate of each of the best `top` families (a family is a differencing option with or without
seasonal lags, with or without calendar terms), weighted by inverse backtest MSE. Averaging
different structures is the robust choice (the near-best candidates of one family make nearly
the same errors, so they are not averaged together), and the pick of one best out of many noisy
scores overfits the folds. So each way is judged on every fold by what it would have picked from
the *other* folds (leave-one-fold-out), and a single unit replaces the ensemble only when its
errors there are lower by more than `SIGNIFICANCE` standard errors of the paired differences.
The winner is refitted on the whole training part and returned as one `PerceptronForecaster`.
The holdout is never looked at.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ml import calendar_inputs as cal
from ml.backtest import BacktestResult, backtest_many
from ml.baselines import infer_season_length
from ml.candidates import DEFAULT_MAX_CANDIDATES, SAMPLES_PER_PARAMETER, candidate_grid, fixed_window
from ml.ensemble import combine
from ml.errors import ForecastInputError
from ml.folds import FoldPlan, plan_folds_or_short_blocks
from ml.forecaster import Hyperparameters, Member, PerceptronForecaster, fit_many
from ml.windows import as_series

DEFAULT_TIME_BUDGET = 60.0
DEFAULT_TOP = 3
STRATEGIES = ("ensemble", "best", "default")
SIGNIFICANCE = 2.0
_CHUNK = 16
# What a series too short to backtest is served: on a few points a unit on the raw level
# extrapolates wildly (up to a thousand times the naive forecast's error on simulated series),
# while one on first differences stays near the naive forecast and beats it from about 12 points.
SMALLEST = Hyperparameters(window_size=1, differencing="first")
MIN_POINTS = SMALLEST.effective_window + SAMPLES_PER_PARAMETER * SMALLEST.parameters


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's backtest, ready to log as an MLflow child run (`params`, `metrics`)."""

    hyperparameters: Hyperparameters
    backtest: BacktestResult

    @property
    def rmse(self) -> float:
        return self.backtest.rmse

    @property
    def rmse_std(self) -> float:
        return self.backtest.rmse_std

    @property
    def fit_seconds(self) -> float:
        return self.backtest.fit_seconds

    @property
    def params(self) -> dict[str, Any]:
        hp = self.hyperparameters
        return {
            "window_size": hp.window_size,
            "differencing": hp.differencing,
            "season_length": hp.season_length,
            "seasonal_lags": hp.seasonal_lags,
            "calendar_period": cal.period_name(hp.calendar_period) if hp.calendar_harmonics else "none",
            "calendar_harmonics": hp.calendar_harmonics,
            "effective_window": hp.effective_window,
            **hp.descent,
        }

    @property
    def metrics(self) -> dict[str, float]:
        """`backtest_<metric>_mean|std` across folds, `fold_<i>_<metric>` per fold,
        `step_<h>_rmse|mae|coverage` per forecast step (when scored beyond one step), fit seconds."""
        metrics = {f"backtest_{name}": value for name, value in self.backtest.summary.items()}
        for i, fold in enumerate(self.backtest.folds, start=1):
            metrics.update({f"fold_{i}_{name}": value for name, value in fold.items()})
        steps = self.backtest.steps
        if len(steps["rmse"]) > 1:
            for name in ("rmse", "mae", "coverage"):
                for h, value in enumerate(steps.get(name, ()), start=1):
                    metrics[f"step_{h}_{name}"] = float(value)
        metrics["fit_seconds"] = self.fit_seconds
        return metrics


def score_candidate(
    hp: Hyperparameters,
    values: object,
    plan: FoldPlan,
    season_length: int = 1,
    solver: str = "descent",
    max_steps: int | None = None,
    times: np.ndarray | None = None,
) -> CandidateScore:
    """Backtest one candidate on the folds of `plan` (pure: the same inputs give the same scores),
    with multi-step metrics up to `max_steps` (see `backtest.backtest`)."""
    return score_candidates([hp], values, plan, season_length, solver=solver, max_steps=max_steps, times=times)[0]


def score_candidates(
    hps: Sequence[Hyperparameters],
    values: object,
    plan: FoldPlan,
    season_length: int = 1,
    deadline: float | None = None,
    solver: str = "descent",
    max_steps: int | None = None,
    times: np.ndarray | None = None,
) -> list[CandidateScore]:
    """Backtest candidates in batches of a few, in order; once `deadline` (a `time.monotonic()`
    value) has passed no new batch starts, so the result may hold only the first candidates."""
    scores: list[CandidateScore] = []
    for start in range(0, len(hps), _CHUNK):
        if scores and deadline is not None and time.monotonic() >= deadline:
            break
        chunk = list(hps[start : start + _CHUNK])
        results = backtest_many(chunk, values, plan, season_length, max_steps, solver, times)
        scores.extend(CandidateScore(hp, result) for hp, result in zip(chunk, results, strict=True))
    return scores


@dataclass(frozen=True)
class Selection:
    """The chosen model and why: the strategy, its members and their weights, every candidate's
    backtest, and each strategy's leave-one-fold-out backtest RMSE."""

    model: PerceptronForecaster
    strategy: str
    members: tuple[CandidateScore, ...]
    weights: tuple[float, ...]
    candidates: tuple[CandidateScore, ...]
    strategy_rmse: dict[str, float]
    plan: FoldPlan | None
    grid_size: int
    seconds: float
    reason: str
    season_length: int = 1
    timings: dict[str, float] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """A JSON-able summary for logs and run artifacts."""
        return {
            "strategy": self.strategy,
            "reason": self.reason,
            "season_length": self.season_length,
            "effective_window": self.model.window_size,
            "members": [
                {**member.params, "weight": weight, "backtest_rmse": member.rmse}
                for member, weight in zip(self.members, self.weights, strict=True)
            ],
            "strategy_rmse": self.strategy_rmse,
            "candidates_scored": len(self.candidates),
            "candidates_in_grid": self.grid_size,
            "folds": None if self.plan is None else list(self.plan.origins),
            "fold_horizon": None if self.plan is None else self.plan.horizon,
            "seconds": self.seconds,
            "timings": self.timings,
        }


def select(
    values: object,
    step_seconds: float,
    *,
    base: Hyperparameters | None = None,
    folds: int = 5,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
    time_budget: float | None = DEFAULT_TIME_BUDGET,
    top: int = DEFAULT_TOP,
    seed: int = 42,
    search_solver: str = "exact",
    times: np.ndarray | None = None,
) -> Selection:
    """Choose and fit the model to serve for a training series (oldest first; the caller keeps
    its holdout out of it). Deterministic for a given `seed` unless `time_budget` (seconds)
    runs out, when the candidates not yet scored are left out (the report says how many).

    `search_solver` fits the backtest's units: "exact" (default) solves each unit's
    least-squares problem directly, the optimum the descent converges to, which makes the
    search ten or more times cheaper on these small units; "descent" trains them as served.
    The chosen units are refitted by the gradient descent on the whole training series.

    `times` (epoch seconds of `values`) let calendar terms into the candidates.

    A series too short for folds of a season is backtested on shorter blocks (the candidates
    that fit them compete); one too short for any backtest gets a unit on first differences
    with a window small enough to leave SAMPLES_PER_PARAMETER training windows per parameter
    (the default window would nearly interpolate it), and one under MIN_POINTS an error."""
    started = time.monotonic()
    series = as_series(values)
    base = Hyperparameters(seed=seed) if base is None else Hyperparameters(**{**base.descent, "seed": seed})
    season = infer_season_length(step_seconds)
    try:  # a series too short for blocks of a season gets short blocks and the candidates that fit them
        plan = plan_folds_or_short_blocks(len(series), season, folds)
    except ForecastInputError as exc:
        return _fallback(series, base, season, started, f"small window: {exc}")
    grid = candidate_grid(step_seconds, plan.first_origin, max_candidates, base=base, calendar=times is not None)
    deadline = None if time_budget is None else started + time_budget
    # The choice rests on one-step errors; multi-step metrics are `score_candidate`'s to give.
    scores = score_candidates(grid, series, plan, season, deadline, search_solver, max_steps=1, times=times)
    return choose(scores, series, top=top, grid_size=len(grid), season_length=season, started=started, times=times)


def choose(
    scores: Sequence[CandidateScore],
    values: object,
    *,
    top: int = DEFAULT_TOP,
    grid_size: int | None = None,
    season_length: int = 1,
    started: float | None = None,
    times: np.ndarray | None = None,
) -> Selection:
    """Pick and refit the model from candidates scored on the same folds of `values` (the
    training series they were scored on, with its `times` when candidates read the calendar),
    in grid order: the first is the default window. For a caller that scored the candidates
    itself (e.g. concurrently, one child run each)."""
    if not scores:
        raise ForecastInputError("choose needs at least one scored candidate")
    plan = scores[0].backtest.plan
    if any(score.backtest.plan != plan for score in scores):
        raise ForecastInputError("every candidate must be scored on the same folds")
    series = as_series(values)
    if len(series) != plan.n_points:
        raise ForecastInputError(f"the candidates were scored on {plan.n_points} points, got {len(series)}")
    started = time.monotonic() if started is None else started
    chosen_at = time.monotonic()
    squared = _judge(scores, top)
    strategy = _choose(squared) if squared else "ensemble"
    strategy_rmse = {name: float(np.sqrt(np.mean(errors))) for name, errors in squared.items()}
    picked, weights = _pick(strategy, scores, _fold_sse(scores), range(plan.folds), top)
    members = [scores[i] for i in picked]
    model = _refit(members, weights, series, times)
    finished = time.monotonic()
    grid_size = len(scores) if grid_size is None else grid_size
    reason = (
        f"{strategy}: leave-one-fold-out backtest RMSE {strategy_rmse[strategy]:.6g}"
        + ("" if strategy == "ensemble" else f", significantly below the ensemble's {strategy_rmse['ensemble']:.6g}")
        if strategy_rmse
        else "one fold only: cannot compare strategies, averaging the best candidates"
    )
    if len(scores) < grid_size:
        reason += f"; the time budget left {grid_size - len(scores)} candidates unscored"
    return Selection(
        model=model,
        strategy=strategy,
        members=tuple(members),
        weights=tuple(weights),
        candidates=tuple(scores),
        strategy_rmse=strategy_rmse,
        plan=plan,
        grid_size=grid_size,
        seconds=finished - started,
        reason=reason,
        season_length=season_length,
        timings={"scoring": chosen_at - started, "refit": finished - chosen_at},
    )


def _fold_sse(scores: Sequence[CandidateScore]) -> np.ndarray:
    """Sum of squared one-step errors per candidate (rows) and fold (columns)."""
    folds = scores[0].backtest.plan.folds
    errors = np.stack([score.backtest.predicted - score.backtest.actual for score in scores])
    return (errors * errors).reshape(len(scores), folds, -1).sum(axis=2)


def _judge(scores: Sequence[CandidateScore], top: int) -> dict[str, np.ndarray]:
    """Each strategy's squared errors on every tested point, each fold forecast by the members
    the strategy picks from the scores on the other folds. Empty when there is a single fold."""
    folds = scores[0].backtest.plan.folds
    if folds < 2:
        return {}
    sse = _fold_sse(scores)
    blocks = np.stack([score.backtest.predicted for score in scores]).reshape(len(scores), folds, -1)
    actual = scores[0].backtest.actual.reshape(folds, -1)
    result = {}
    for strategy in STRATEGIES:
        squared = []
        for fold in range(folds):
            picked, weights = _pick(strategy, scores, sse, [f for f in range(folds) if f != fold], top)
            forecast = np.asarray(weights) @ blocks[picked, fold]
            squared.append((forecast - actual[fold]) ** 2)
        result[strategy] = np.concatenate(squared)
    return result


def _choose(squared: dict[str, np.ndarray]) -> str:
    """The ensemble, unless a single unit's errors are significantly lower (paired, per point)."""
    incumbent = STRATEGIES[0]
    for challenger in STRATEGIES[1:]:
        difference = squared[challenger] - squared[incumbent]
        spread = np.std(difference, ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 else np.inf
        if np.mean(difference) < -SIGNIFICANCE * spread:
            incumbent = challenger
    return incumbent


def _pick(
    strategy: str, scores: Sequence[CandidateScore], sse: np.ndarray, folds: Sequence[int], top: int
) -> tuple[list[int], list[float]]:
    """Indices of the candidates a strategy picks, ranked on `folds`, and their weights."""
    if strategy == "default":
        return [0], [1.0]
    mse = sse[:, list(folds)].sum(axis=1)
    mse = np.where(np.isfinite(mse), mse, np.inf)
    order = np.argsort(mse, kind="stable")
    if strategy == "best":
        return [int(order[0])], [1.0]
    leaders: dict[tuple[str, bool], int] = {}
    for i in order:
        hp = scores[i].hyperparameters
        if np.isfinite(mse[i]):
            leaders.setdefault((hp.differencing, hp.seasonal_lags > 0, hp.calendar_harmonics > 0), int(i))
    chosen = list(leaders.values())[:top] or [int(order[0])]
    inverse = 1.0 / np.maximum(mse[chosen], np.finfo(float).tiny)
    return chosen, list(inverse / inverse.sum())


def _refit(
    members: Sequence[CandidateScore], weights: Sequence[float], series: np.ndarray, times: np.ndarray | None
) -> PerceptronForecaster:
    hps = [member.hyperparameters for member in members]
    models = fit_many(hps, [series] * len(hps), times=[times] * len(hps))
    for model, member in zip(models, members, strict=True):
        model.members = (Member.of(member.hyperparameters, 1.0, member.rmse),)
    if len(models) == 1:
        return models[0]
    return combine(models, weights, values=series, times=times)


def _fallback(series: np.ndarray, base: Hyperparameters, season: int, started: float, reason: str) -> Selection:
    if len(series) < MIN_POINTS:
        raise ForecastInputError(
            f"too few points to tune: {len(series)} training points, the smallest unit (window 1 on first "
            f"differences, {SAMPLES_PER_PARAMETER} training windows per weight) needs {MIN_POINTS}"
        )
    window = fixed_window(len(series) - 1, samples_per_parameter=SAMPLES_PER_PARAMETER)
    hp = Hyperparameters(**{**base.descent, "window_size": window, "differencing": "first"})
    model = PerceptronForecaster(hp).fit(series)
    return Selection(
        model=model,
        strategy="default",
        members=(),
        weights=(),
        candidates=(),
        strategy_rmse={},
        plan=None,
        grid_size=0,
        seconds=time.monotonic() - started,
        reason=reason,
        season_length=season,
    )
