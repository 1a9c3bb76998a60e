"""The training steps as plain functions, so the flow's tasks stay thin and each step can be
tested, profiled and benchmarked without Prefect."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from core.mongo import SeriesArrays, to_arrays
from core.series import SeriesSpec
from ml import Hyperparameters, PerceptronForecaster, calibrate, evaluate, holdout_predictions
from ml.baselines import infer_season_length
from ml.metrics import point_metrics
from ml.sampling import GapPolicy, repair
from ml.windows import holdout_size

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    """The whole clean series and where its holdout starts: values[:start] train, values[start:] test."""

    timestamps: np.ndarray
    values: np.ndarray
    start: int
    step_seconds: float
    gaps: str = "fail"
    max_gap: int = 0
    filled: int = 0
    dropped: int = 0

    @property
    def holdout_points(self) -> int:
        return len(self.values) - self.start

    @property
    def season_length(self) -> int:
        return infer_season_length(self.step_seconds)

    @property
    def seconds(self) -> np.ndarray:
        """Epoch seconds of every value: what units reading the calendar are fitted and scored with."""
        return self.timestamps.astype("datetime64[ns]").astype(np.int64) / 1e9


def split_series(
    frame: pd.DataFrame, window_size: int, fraction: float, max_holdout: int, gaps: GapPolicy = "fail", max_gap: int = 0
) -> Split:
    """The clean series with its gaps dealt with (`ml.sampling.repair`), and where its holdout
    starts."""
    series: SeriesArrays = to_arrays(frame)
    seconds = series.timestamps.astype("datetime64[ns]").astype(np.int64) / 1e9
    repaired = repair(seconds, series.values, gaps, max_gap)
    timestamps = np.round(repaired.times * 1e9).astype(np.int64).astype("datetime64[ns]")
    values = repaired.values
    start = len(values) - holdout_size(len(values), window_size, fraction, max_holdout)
    step = series.step_seconds
    return Split(timestamps, values, start, step, gaps, max_gap, repaired.filled, repaired.dropped)


def fit_forecaster(
    split: Split,
    hp: Hyperparameters,
    spec: SeriesSpec,
    interval_level: float,
    progress_every: int = 1000,
    selected: PerceptronForecaster | None = None,
) -> PerceptronForecaster:
    """Fit on the training part (or take the unit tuning chose, already fitted on it), then
    calibrate prediction intervals on the holdout it never saw."""

    def progress(epoch: int, loss: float) -> None:
        log.info("epoch %d/%d: training loss %.6g", epoch, hp.epochs, loss)

    model = selected
    if model is None:
        model = PerceptronForecaster(hp)
        model.fit(
            split.values[: split.start],
            progress=progress,
            progress_every=progress_every,
            times=split.seconds[: split.start],
        )
    model.intervals = calibrate(
        model.forecast_windows, split.values, split.start, model.window_size, interval_level, times=split.seconds
    )
    model.metadata = {
        "model_name": spec.model_name,
        "series": spec.to_dict(),
        "trained_at": datetime.now(UTC).isoformat(),
        "data_start": _iso(split.timestamps[0]),
        "data_end": _iso(split.timestamps[-1]),
        "rows": int(len(split.values)),
        "holdout_start": _iso(split.timestamps[split.start]),
        "step_seconds": split.step_seconds,
        "gaps": split.gaps,
        "max_gap_points": split.max_gap,
    }
    log.info(
        "fitted %s: %d epochs, final loss %.6g, %d training windows",
        spec.model_name,
        model.epochs_trained,
        model.final_loss,
        model.training_samples,
    )
    return model


def evaluate_forecaster(model: PerceptronForecaster, split: Split) -> dict[str, float]:
    metrics = evaluate(model, split.values, split.start, split.season_length, split.seconds)
    metrics.update(
        final_loss=float(model.final_loss),
        training_samples=float(model.training_samples),
        epochs_trained=float(model.epochs_trained),
        holdout_points=float(split.holdout_points),
        filled_points=float(split.filled),
        dropped_points=float(split.dropped),
    )
    return metrics


def rescore(model: PerceptronForecaster, split: Split) -> float:
    """RMSE of another model (the champion) on this split's holdout; NaN when it cannot score it."""
    if split.start < model.window_size:
        return float("nan")
    predicted = holdout_predictions(model, split.values, split.start, split.seconds)
    return point_metrics(split.values[split.start :], predicted)["rmse"]


def data_summary(split: Split) -> dict[str, Any]:
    return {
        "data_start": _iso(split.timestamps[0]),
        "data_end": _iso(split.timestamps[-1]),
        "rows": int(len(split.values)),
        "train_points": int(split.start),
        "holdout_points": int(split.holdout_points),
        "step_seconds": split.step_seconds,
        "gaps": split.gaps,
        "max_gap_points": split.max_gap,
    }


def _iso(value: np.datetime64) -> str:
    return pd.Timestamp(value).tz_localize("UTC").isoformat()
