"""The saved model: one plain JSON document, readable by anything, executing nothing on load.

Loading checks everything a forecast depends on (format, version, shapes, finite numbers), so a
truncated or tampered file fails here with a message instead of serving garbage later.
"""

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ml.errors import ModelFormatError
from ml.forecaster import Hyperparameters, PerceptronForecaster
from ml.intervals import PredictionIntervals

FORMAT = "mlts-perceptron"
FORMAT_VERSION = 1
FILE_NAME = "model.json"


def to_dict(model: PerceptronForecaster) -> dict[str, Any]:
    if not model.is_fitted:
        raise ModelFormatError("only a fitted model can be saved")
    hp = model.hyperparameters
    intervals = model.intervals
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "window_size": hp.window_size,
        "weights": [float(w) for w in model.weights],
        "bias": float(model.bias),
        "scaler": {"mean": float(model.mean), "std": float(model.std)},
        "hyperparameters": {
            "epochs": hp.epochs,
            "learning_rate": hp.learning_rate,
            "patience": hp.patience,
            "tolerance": hp.tolerance,
            "seed": hp.seed,
        },
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
        "metadata": model.metadata,
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
    if version != FORMAT_VERSION:
        raise ModelFormatError(
            f"unsupported model format_version {version!r}; this mlts reads version {FORMAT_VERSION}"
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
    try:
        hyperparameters = Hyperparameters(window_size=window_size, **hp_doc)
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"invalid hyperparameters: {exc}") from None
    training = _object(document.get("training", {}), "training")
    metadata = document.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ModelFormatError("metadata must be a JSON object")
    final_loss = training.get("final_loss")
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
    )


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
