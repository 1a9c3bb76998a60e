"""An average of linear units is one linear unit.

Every fitted model forecasts ŷ = window @ weights + intercept on its raw window. A weighted
average of such forecasts, each member's weights padded with zeros on the oldest side to the
longest window, is again that form: the average of the weights and of the intercepts, and of
the calendar terms of members that read the calendar. So an ensemble is served, saved and
forecast recursively exactly like a single model.
"""

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ml import calendar_inputs as cal
from ml.errors import ForecastInputError
from ml.forecaster import Hyperparameters, PerceptronForecaster, fit_many
from ml.windows import as_series, windows


def intercept(model: PerceptronForecaster) -> float:
    """The constant of the model's affine form, ŷ = window @ weights + intercept."""
    weights = model._require_fitted()
    return float(model.std * model.bias + model.mean - model.mean * weights.sum())


def combine(
    models: Sequence[PerceptronForecaster],
    weights: Sequence[float] | None = None,
    values: object = None,
    times: np.ndarray | None = None,
) -> PerceptronForecaster:
    """One model whose every forecast is the weighted average of the members' forecasts.

    `weights` (equal when omitted) are normalised to sum to 1; members weighted 0 are left out.
    Each member's structure is kept,
    with its share, in `members` of the result (nested ensembles are flattened). The result has
    no intervals: calibrate them on the combined model. With `values` (the training series),
    `final_loss` is the combined unit's one-step MSE on them in standardised units, comparable to
    a single unit's training loss (`times`: their epoch seconds, for members reading the
    calendar); otherwise it is NaN."""
    if not models:
        raise ForecastInputError("combine needs at least one model")
    shares = np.full(len(models), 1.0 / len(models)) if weights is None else np.asarray(weights, dtype=np.float64)
    if shares.shape != (len(models),) or not np.all(np.isfinite(shares)) or np.any(shares < 0) or shares.sum() <= 0:
        raise ForecastInputError(f"ensemble weights must be {len(models)} non-negative finite numbers, not all 0")
    shares = shares / shares.sum()
    # A member with no share contributes nothing, not even to the window.
    models = [model for model, share in zip(models, shares, strict=True) if share > 0]
    shares = shares[shares > 0]
    window = max(model.window_size for model in models)
    combined = np.zeros(window)
    constant = 0.0
    for model, share in zip(models, shares, strict=True):
        combined[window - model.window_size :] += share * model._require_fitted()
        constant += share * intercept(model)
    mean = float(np.dot(shares, [model.mean for model in models]))
    std = float(np.dot(shares, [model.std for model in models]))
    heaviest = models[int(np.argmax(shares))]
    result = PerceptronForecaster(
        hyperparameters=Hyperparameters(window_size=window, **heaviest.hyperparameters.descent),
        weights=combined,
        bias=(constant - mean + mean * float(combined.sum())) / std,
        mean=mean,
        std=std,
        epochs_trained=sum(model.epochs_trained for model in models),
        training_samples=max(model.training_samples for model in models),
        loss_history=heaviest.loss_history,
        members=tuple(
            replace(member, weight=float(share * member.weight))
            for model, share in zip(models, shares, strict=True)
            for member in model.structure
        ),
        calendar=cal.combine([model.calendar for model in models], shares),
    )
    if values is not None:
        result.final_loss = in_sample_loss(result, values, times)
    return result


def in_sample_loss(model: PerceptronForecaster, values: object, times: np.ndarray | None = None) -> float:
    """One-step MSE on the windows of `values`, in units of the model's scaler (std = 1)."""
    series = as_series(values)
    w = model.window_size
    if len(series) <= w:
        return float("nan")
    inputs, targets = windows(series, w)
    errors = (model.predict(inputs, None if times is None else times[w:]) - targets) / model.std
    return float(np.mean(errors * errors))


def refit(
    model: PerceptronForecaster, series: Sequence[np.ndarray], times: Sequence[np.ndarray | None] | None = None
) -> list[PerceptronForecaster]:
    """The model's recipe fitted anew on each of `series` (with their `times`, for members that
    read the calendar): every member's window, differencing, lags and calendar terms, trained by
    the model's own descent settings, combined with the same shares. Comparing two models on the
    same backtest folds needs each refitted as it was built, not only as served."""
    descent = model.hyperparameters.descent
    hps = [member.hyperparameters(descent) for member in model.structure]
    shares = [member.weight for member in model.structure]
    clocks = list(times) if times is not None else [None] * len(series)
    fitted = fit_many(
        [hp for _ in series for hp in hps],
        [values for values in series for _ in hps],
        times=[clock for clock in clocks for _ in hps],
    )
    refitted = []
    for i in range(len(series)):
        units = fitted[i * len(hps) : (i + 1) * len(hps)]
        for unit, member in zip(units, model.structure, strict=True):
            unit.members = (replace(member, weight=1.0),)
        refitted.append(units[0] if len(units) == 1 else combine(units, shares))
    return refitted
