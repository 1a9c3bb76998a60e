"""The demo dataset: two months of hourly readings from a small building-monitoring setup.

Generated deterministically (fixed seed), so the demo and the tests chew on the same numbers
everywhere without shipping a data file. Three sensors, each with what real ones show: a daily
cycle, a weekday/weekend difference, slow weather-driven drift, and noise.
"""

from typing import TYPE_CHECKING

import numpy as np

from core.series import SeriesSpec

if TYPE_CHECKING:
    import pandas as pd

COLLECTION = "sensor_readings"
START = "2024-01-01T00:00:00Z"
DAYS = 60
SENSORS = {
    "temp_office": {"location": "office", "unit": "degC"},
    "humidity_office": {"location": "office", "unit": "percent"},
    "power_plant": {"location": "plant", "unit": "kW"},
}


def demo_frame(days: int = DAYS, seed: int = 7) -> "pd.DataFrame":
    """Long format, one row per reading: timestamp (ISO-8601, UTC), value, sensor_id, location, unit."""
    import pandas as pd  # here: the CLI starts without it

    rng = np.random.default_rng(seed)
    index = pd.date_range(START, periods=days * 24, freq="h")
    hour = index.hour.to_numpy()
    weekday = index.dayofweek.to_numpy() < 5
    n = len(index)

    weather = _ar1(rng, n, phi=0.995, scale=0.08)
    occupied = weekday & (hour >= 7) & (hour < 19)
    temperature = (
        19.5 + 2.8 * occupied + 1.2 * np.sin(2 * np.pi * (hour - 9) / 24) + weather + _ar1(rng, n, phi=0.6, scale=0.15)
    )
    humidity = (
        46.0 - 1.6 * (temperature - 21.0) + 3.0 * np.sin(2 * np.pi * (hour - 4) / 24) + _ar1(rng, n, phi=0.8, scale=0.6)
    )
    shift = np.where(weekday, 1.0, 0.45)
    load_curve = (
        60 * np.exp(-((hour - 10.5) ** 2) / 8)
        + 45 * np.exp(-((hour - 15.5) ** 2) / 6)
        + 40 * ((hour >= 6) & (hour < 22))
    )
    power = 85.0 + shift * load_curve + 4.0 * weather + _ar1(rng, n, phi=0.5, scale=3.0)

    timestamps = index.strftime("%Y-%m-%dT%H:%M:%SZ")
    frames = []
    for sensor_id, values in zip(SENSORS, (temperature, humidity, power)):
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": timestamps,
                    "value": np.round(values, 3),
                    "sensor_id": sensor_id,
                    "location": SENSORS[sensor_id]["location"],
                    "unit": SENSORS[sensor_id]["unit"],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def demo_series() -> list[SeriesSpec]:
    return [SeriesSpec(COLLECTION, filter={"additional_features.sensor_id": sensor}) for sensor in SENSORS]


def _ar1(rng: np.random.Generator, n: int, phi: float, scale: float) -> np.ndarray:
    from scipy.signal import lfilter  # a second to import; only the demo data needs it

    return lfilter([1.0], [1.0, -phi], rng.normal(0.0, scale, n))
