"""The two pictures a person opens in the MLflow UI: did training converge, and how does the
forecast sit against what happened."""

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

# matplotlib's text layout is not thread-safe, and retrain_all trains series on threads.
_LOCK = threading.Lock()
_F = TypeVar("_F", bound=Callable[..., Path])


def _serialised(function: _F) -> _F:
    @functools.wraps(function)
    def locked(*args: object, **kwargs: object) -> Path:
        with _LOCK:
            return function(*args, **kwargs)

    return locked  # type: ignore[return-value]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@_serialised
def loss_curve(loss_history: np.ndarray, path: Path, title: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    epochs = np.arange(1, len(loss_history) + 1)
    ax.plot(epochs, loss_history, color="#1f77b4", linewidth=1.5)
    if len(loss_history) and np.all(np.asarray(loss_history) > 0):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training MSE (standardised)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


@_serialised
def holdout_forecast(
    timestamps: np.ndarray,
    actual: np.ndarray,
    predicted: np.ndarray,
    lower: np.ndarray | None,
    upper: np.ndarray | None,
    path: Path,
    title: str,
    context: tuple[np.ndarray, np.ndarray] | None = None,
) -> Path:
    """One-step forecasts over the holdout with their interval, after a stretch of training data."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=100)
    if context is not None and len(context[0]):
        ax.plot(context[0], context[1], color="#999999", linewidth=1, label="training data")
    ax.plot(timestamps, actual, color="#222222", linewidth=1.2, label="actual")
    ax.plot(timestamps, predicted, color="#d62728", linewidth=1.2, label="forecast (1 step)")
    if lower is not None and upper is not None:
        ax.fill_between(timestamps, lower, upper, color="#d62728", alpha=0.18, label="prediction interval")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
