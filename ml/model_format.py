"""The saved model: one plain JSON document, readable by anything, executing nothing on load.

Loading checks everything a forecast depends on (format, version, shapes, finite numbers), so a
truncated or tampered file fails here with a message instead of serving garbage later.

Version 2 adds `structure`: how the served unit was built (one unit or an ensemble; each
member's window, differencing, season length, seasonal lags, share and backtest score). The
forecast itself still needs only the effective weights, bias and scaler, as in version 1, which
still loads (as a single plain unit).

Version 3 adds `calendar`: the sine and cosine terms (period, harmonic, coefficients in raw
units) a unit that reads the calendar adds to its forecasts, and the step between forecasts
(`step_seconds`, and `step_months` for a monthly, quarterly or yearly series, absent in files
written before it); null for the others, and members record `calendar_period` and
`calendar_harmonics`. Versions 1 and 2 still load (no calendar).
"""

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ml.calendar_inputs import Calendar
from ml.differencing import DIFFERENCING
from ml.errors import ForecastInputError, ModelFormatError
from ml.forecaster import Hyperparameters, Member, PerceptronForecaster
from ml.intervals import PredictionIntervals

FORMAT = "mlts-perceptron"
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
FILE_NAME = "model.json"
_MEMBER_KEYS = {
    "window_size",
    "differencing",
    "season_length",
    "seasonal_lags",
    "effective_window",
    "weight",
    "backtest_rmse",
    "calendar_period",
    "calendar_harmonics",
}
_WEIGHT_SUM_TOLERANCE = 1e-6


def to_dict(model: PerceptronForecaster) -> dict[str, Any]:
    if not model.is_fitted:
        raise ModelFormatError("only a fitted model can be saved")
    hp = model.hyperparameters
    intervals = model.intervals
    members = model.structure
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "window_size": model.window_size,
        "weights": [float(w) for w in model.weights],
        "bias": float(model.bias),
        "scaler": {"mean": float(model.mean), "std": float(model.std)},
        "structure": {
            "kind": "single" if len(members) == 1 else "ensemble",
            "effective_window": model.window_size,
            "members": [_member_dict(member) for member in members],
        },
        "hyperparameters": hp.descent,
        "training": {
            "epochs_trained": model.epochs_trained,
            "final_loss": _finite_or_none(model.final_loss),
            "training_samples": model.training_samples,
        },
        "intervals": None
        if intervals is None
        else {
            "level": intervals.level,
            "lower": [float(v) for v in intervals.lower],
            "upper": [float(v) for v in intervals.upper],
        },
        "calendar": None if model.calendar is None else model.calendar.to_dict(),
        "metadata": model.metadata,
    }


def _member_dict(member: Member) -> dict[str, Any]:
    return {
        "window_size": member.window_size,
        "differencing": member.differencing,
        "season_length": member.season_length,
        "seasonal_lags": member.seasonal_lags,
        "effective_window": member.effective_window,
        "weight": float(member.weight),
        "backtest_rmse": None if member.backtest_rmse is None else _finite_or_none(member.backtest_rmse),
        "calendar_period": float(member.calendar_period),
        "calendar_harmonics": int(member.calendar_harmonics),
    }


def dumps(model: PerceptronForecaster) -> str:
    return json.dumps(to_dict(model), allow_nan=False, indent=1, default=str)


def save(model: PerceptronForecaster, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(dumps(model), encoding="utf-8")
    return path


def loads(text: str | bytes) -> PerceptronForecaster:
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"model file is not valid JSON ({exc}); it may be truncated") from None
    return from_dict(document)


def load(path: str | Path) -> PerceptronForecaster:
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ModelFormatError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    return loads(text)


def from_dict(document: object) -> PerceptronForecaster:
    if not isinstance(document, dict):
        raise ModelFormatError(f"model must be a JSON object, got {type(document).__name__}")
    if document.get("format") != FORMAT:
        raise ModelFormatError(f"not an mlts model: format is {document.get('format')!r}, expected {FORMAT!r}")
    version = document.get("format_version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise ModelFormatError(
            f"unsupported model format_version {version!r}; this mlts reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    window_size = document.get("window_size")
    if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 1:
        raise ModelFormatError(f"window_size must be a positive integer, got {window_size!r}")
    weights = _finite_vector(document.get("weights"), "weights")
    if len(weights) != window_size:
        raise ModelFormatError(f"weights has {len(weights)} values but window_size is {window_size}")
    scaler = _object(document.get("scaler"), "scaler")
    std = _finite_number(scaler.get("std"), "scaler.std")
    if std <= 0:
        raise ModelFormatError(f"scaler.std must be positive, got {std}")
    hp_doc = _object(document.get("hyperparameters", {}), "hyperparameters")
    members = _structure(document.get("structure"), window_size) if version >= 2 else ()
    structure = (
        {}
        if len(members) != 1
        else {
            "window_size": members[0].window_size,
            "differencing": members[0].differencing,
            "season_length": members[0].season_length,
            "seasonal_lags": members[0].seasonal_lags,
            "calendar_period": members[0].calendar_period,
            "calendar_harmonics": members[0].calendar_harmonics,
        }
    )
    try:
        hyperparameters = Hyperparameters(**{"window_size": window_size, **hp_doc, **structure})
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"invalid hyperparameters: {exc}") from None
    training = _object(document.get("training", {}), "training")
    metadata = document.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ModelFormatError("metadata must be a JSON object")
    final_loss = training.get("final_loss")
    calendar = _calendar(document.get("calendar"), members)
    return PerceptronForecaster(
        hyperparameters=hyperparameters,
        weights=weights,
        bias=_finite_number(document.get("bias"), "bias"),
        mean=_finite_number(scaler.get("mean"), "scaler.mean"),
        std=std,
        intervals=_intervals(document.get("intervals")),
        epochs_trained=int(training.get("epochs_trained", 0)),
        final_loss=float("nan") if final_loss is None else float(final_loss),
        training_samples=int(training.get("training_samples", 0)),
        metadata=metadata,
        members=members,
        calendar=calendar,
    )


def _structure(document: object, window_size: int) -> tuple[Member, ...]:
    """The members of a version-2 model, checked against its effective window."""
    document = _object(document, "structure")
    kind = document.get("kind")
    if kind not in ("single", "ensemble"):
        raise ModelFormatError(f"structure.kind must be 'single' or 'ensemble', got {kind!r}")
    if document.get("effective_window") != window_size:
        raise ModelFormatError(
            f"structure.effective_window is {document.get('effective_window')!r} but window_size is {window_size}"
        )
    entries = document.get("members")
    if not isinstance(entries, list) or not entries:
        raise ModelFormatError("structure.members must be a non-empty list of objects")
    if kind == "single" and len(entries) != 1:
        raise ModelFormatError(f"a 'single' structure has exactly one member, got {len(entries)}")
    members = tuple(_member(entry, f"structure.members[{i}]") for i, entry in enumerate(entries))
    longest = max(member.effective_window for member in members)
    if longest != window_size:
        raise ModelFormatError(
            f"the longest member needs a window of {longest} values but window_size is {window_size}"
        )
    total = sum(member.weight for member in members)
    if abs(total - 1.0) > _WEIGHT_SUM_TOLERANCE:
        raise ModelFormatError(f"structure.members weights must sum to 1, got {total!r}")
    return members


def _member(document: object, name: str) -> Member:
    document = _object(document, name)
    unknown = set(document) - _MEMBER_KEYS
    if unknown:
        raise ModelFormatError(f"{name} has unknown field(s) {', '.join(sorted(unknown))}")
    integers = {}
    for key, minimum in (("window_size", 1), ("season_length", 1), ("seasonal_lags", 0)):
        value = document.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ModelFormatError(f"{name}.{key} must be an integer >= {minimum}, got {value!r}")
        integers[key] = value
    differencing = document.get("differencing")
    if differencing not in DIFFERENCING:
        raise ModelFormatError(f"{name}.differencing must be one of {', '.join(DIFFERENCING)}, got {differencing!r}")
    weight = _finite_number(document.get("weight"), f"{name}.weight")
    if not 0.0 < weight <= 1.0 + _WEIGHT_SUM_TOLERANCE:
        raise ModelFormatError(f"{name}.weight must be in (0, 1], got {weight}")
    harmonics = document.get("calendar_harmonics", 0)
    if isinstance(harmonics, bool) or not isinstance(harmonics, int) or harmonics < 0:
        raise ModelFormatError(f"{name}.calendar_harmonics must be an integer >= 0, got {harmonics!r}")
    period = _finite_number(document.get("calendar_period", 0.0), f"{name}.calendar_period")
    score = document.get("backtest_rmse")
    if score is not None and _finite_number(score, f"{name}.backtest_rmse") < 0:
        raise ModelFormatError(f"{name}.backtest_rmse must be >= 0 or null, got {score}")
    try:
        member = Member(
            differencing=differencing,
            weight=weight,
            backtest_rmse=score,
            calendar_period=period,
            calendar_harmonics=harmonics,
            **integers,
        )
        effective = member.effective_window
        member.hyperparameters({})
    except ForecastInputError as exc:
        raise ModelFormatError(f"{name}: {exc}") from None
    if "effective_window" in document and document["effective_window"] != effective:
        raise ModelFormatError(
            f"{name}.effective_window is {document['effective_window']!r}, its structure needs {effective}"
        )
    return member


def _calendar(document: object, members: tuple[Member, ...]) -> Calendar | None:
    """The calendar terms, present exactly when a member reads the calendar."""
    reads = any(member.calendar_harmonics for member in members)
    if document is None:
        if reads:
            raise ModelFormatError("a member reads the calendar (calendar_harmonics > 0) but the model has no calendar")
        return None
    if not reads:
        raise ModelFormatError("calendar is set but no member reads the calendar (calendar_harmonics is 0)")
    try:
        return Calendar.from_dict(_object(document, "calendar"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"calendar is malformed: {exc}") from None


def _intervals(document: object) -> PredictionIntervals | None:
    if document is None:
        return None
    document = _object(document, "intervals")
    level = _finite_number(document.get("level"), "intervals.level")
    if not 0 < level < 1:
        raise ModelFormatError(f"intervals.level must be between 0 and 1, got {level}")
    lower = _finite_vector(document.get("lower"), "intervals.lower")
    upper = _finite_vector(document.get("upper"), "intervals.upper")
    if len(lower) != len(upper) or len(lower) == 0:
        raise ModelFormatError("intervals.lower and intervals.upper must be non-empty and of equal length")
    return PredictionIntervals(level=level, lower=lower, upper=upper)


def _object(value: object, name: str) -> dict:
    if not isinstance(value, dict):
        raise ModelFormatError(f"{name} must be a JSON object, got {type(value).__name__}")
    return value


def _finite_number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ModelFormatError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _finite_vector(value: object, name: str) -> np.ndarray:
    if not isinstance(value, list) or not value:
        raise ModelFormatError(f"{name} must be a non-empty list of numbers")
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelFormatError(f"{name} must hold numbers only") from None
    if array.ndim != 1 or not np.all(np.isfinite(array)):
        raise ModelFormatError(f"{name} must hold finite numbers only (found NaN, infinity or nesting)")
    return array


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
