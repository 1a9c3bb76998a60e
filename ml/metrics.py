"""Point-forecast error metrics. Plain functions of arrays, so any model or baseline is scored alike."""

import numpy as np


def point_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    errors = np.asarray(actual, dtype=np.float64) - np.asarray(predicted, dtype=np.float64)
    with np.errstate(over="ignore"):  # errors past 1e154 square to inf: an infinite score, not a fault
        mse = float(np.mean(errors * errors))
    return {"mae": float(np.mean(np.abs(errors))), "mse": mse, "rmse": float(np.sqrt(mse))}


def naive_scale(train: np.ndarray, season_length: int = 1) -> float:
    """In-sample MAE of the (seasonal) naive forecast: MASE's denominator (Hyndman & Koehler, 2006)."""
    train = np.asarray(train, dtype=np.float64)
    if len(train) <= season_length:
        return float("nan")
    return float(np.mean(np.abs(train[season_length:] - train[:-season_length])))


def mase(mae: float, scale: float) -> float:
    """MAE relative to the naive forecast's in-sample MAE; below 1 beats naive. NaN when the
    training series never changes (the ratio is then undefined)."""
    if not np.isfinite(scale) or scale == 0.0:
        return float("nan")
    return float(mae / scale)
