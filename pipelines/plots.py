"""The two pictures a person opens in the MLflow UI: did training converge, and how does the
forecast sit against what happened. SVG from `core.charts` (the MLflow UI shows SVG artifacts):
milliseconds each and thread-safe, which matters when `retrain_all` draws two for each of a
thousand series."""

from pathlib import Path

import numpy as np

from core.charts import Band, Chart, Line


def loss_curve(loss_history: np.ndarray, path: Path, title: str) -> Path:
    losses = np.asarray(loss_history, dtype=np.float64)
    epochs = np.arange(1, len(losses) + 1)
    chart = Chart(
        title,
        lines=[Line(epochs, losses, "training loss")],
        x_label="epoch",
        y_label="training MSE (standardised)",
        log_y=bool(len(losses) and np.all(losses > 0)),
        width=800,
    )
    path.write_text(chart.svg())
    return path


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
    lines = []
    if context is not None and len(context[0]):
        lines.append(Line(context[0], context[1], "training data", color="#999999", width=1))
    lines += [
        Line(timestamps, actual, "actual", color="#222222", width=1.2),
        Line(timestamps, predicted, "forecast (1 step)", color="#d62728", width=1.2),
    ]
    bands = [] if lower is None or upper is None else [Band(timestamps, lower, upper, "prediction interval")]
    path.write_text(Chart(title, lines=lines, bands=bands, width=1100).svg())
    return path
