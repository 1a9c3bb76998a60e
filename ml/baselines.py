"""The forecasts a model must beat to be worth serving: naive and seasonal naive."""

import numpy as np

_DAY = 86_400.0
WEEKS_FOR_A_WEEKLY_SEASON = 6


def naive(values: np.ndarray, start: int) -> np.ndarray:
    """One-step forecasts for values[start:]: each is the value just before it."""
    return values[start - 1 : len(values) - 1]


def seasonal_naive(values: np.ndarray, start: int, season_length: int) -> np.ndarray:
    """One-step forecasts for values[start:]: each is the value one season earlier."""
    if season_length < 1 or start < season_length:
        raise ValueError(f"seasonal naive needs season_length <= {start}, got {season_length}")
    return values[start - season_length : len(values) - season_length]


def infer_season_length(step_seconds: float) -> int:
    """The natural cycle for a sampling step: a day for sub-daily data, a week for daily data,
    a year for weekly or monthly data; 1 (no season) when the step fits none of these."""
    if not np.isfinite(step_seconds) or step_seconds <= 0:
        return 1
    if step_seconds < _DAY:
        per_day = _DAY / step_seconds
        return int(round(per_day)) if abs(per_day - round(per_day)) < 1e-6 and per_day >= 2 else 1
    days = step_seconds / _DAY
    if abs(days - 1.0) < 1e-6:
        return 7
    if abs(days - 7.0) < 1e-6:
        return 52
    if 28.0 <= days <= 31.0:
        return 12
    if 89.0 <= days <= 92.0:
        return 4
    return 1


def candidate_seasons(step_seconds: float, n_points: int) -> list[int]:
    """Cycles worth modelling for a sampling step, the natural one first: sub-daily data adds a
    week when the series holds WEEKS_FOR_A_WEEKLY_SEASON of them (fewer leave too few weekly
    differences to learn from); a step with no natural cycle (yearly data) gives none."""
    season = infer_season_length(step_seconds)
    if season < 2:
        return []
    seasons = [season]
    if step_seconds < _DAY and n_points >= WEEKS_FOR_A_WEEKLY_SEASON * 7 * season:
        seasons.append(7 * season)
    return seasons
