"""MLflow pyfunc loader for the JSON model (`loader_module="ml.pyfunc"`).

MLflow calls `_load_pyfunc(path)` with the model's data file, so `mlflow.pyfunc.load_model`
and `mlflow models serve` run the same numpy code as mlts itself, and nothing is unpickled.
Input: one row per window, columns oldest value first (`lag_24 … lag_1` for window 24).
Output: the next value per row, or one column per step when `params={"horizon": h}`.
A model that reads the calendar also needs a `timestamp` column: the time of each row's first
forecast (datetimes, or epoch seconds).
"""

import numpy as np

from ml import model_format
from ml.forecaster import PerceptronForecaster


def input_columns(window_size: int) -> list[str]:
    return [f"lag_{lag}" for lag in range(window_size, 0, -1)]


class PyfuncForecaster:
    def __init__(self, model: PerceptronForecaster):
        self.model = model

    def predict(self, model_input: object, params: dict | None = None) -> np.ndarray:
        horizon = int((params or {}).get("horizon", 1))
        times = None
        columns = list(getattr(model_input, "columns", ()))
        if "timestamp" in columns:
            times = _epoch_seconds(np.asarray(model_input["timestamp"]))
            model_input = model_input.drop(columns=["timestamp"])
        values = getattr(model_input, "values", model_input)
        windows = np.asarray(values, dtype=np.float64)
        if horizon == 1:
            return self.model.predict(windows, times)
        return self.model.forecast_windows(windows, horizon, times)


def _epoch_seconds(column: np.ndarray) -> np.ndarray:
    if np.issubdtype(column.dtype, np.datetime64):
        return column.astype("datetime64[ns]").astype(np.int64) / 1e9
    return column.astype(np.float64)


def _load_pyfunc(path: str) -> PyfuncForecaster:
    return PyfuncForecaster(model_format.load(path))
