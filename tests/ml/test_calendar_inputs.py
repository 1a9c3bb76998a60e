"""Calendar inputs: the served unit is the least-squares unit on lags and Fourier terms of the
target's date, the phase comes from the timestamps, and everything that forecasts carries it."""

import json

import numpy as np
import pytest

from ml import ForecastInputError, Hyperparameters, PerceptronForecaster, fit_many, model_format
from ml.calendar_inputs import (
    DAY,
    WEEK,
    YEAR,
    Calendar,
    features,
    known_ahead,
    max_harmonics,
    months_apart,
    natural_periods,
)
from ml.candidates import candidate_grid
from ml.ensemble import combine
from ml.evaluation import holdout_predictions
from ml.selection import select
from tests.ml.series_factory import ar

MONTH = YEAR / 12
START = 946_684_800.0  # 2000-01-01


def _monthly(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed yearly shape (two harmonics) on AR(1) noise, and calendar-month timestamps."""
    rng = np.random.default_rng(seed)
    months = np.arange(n)
    times = (np.datetime64("2000-01", "M") + months).astype("datetime64[s]").astype(np.int64).astype(float)
    phase = 2 * np.pi * (times % YEAR) / YEAR
    values = 20 + 3 * np.sin(phase + 0.4) + 1.5 * np.cos(2 * phase) + ar(rng, n, [0.6], scale=0.5)
    return values, times


def test_features_are_sines_and_cosines_of_the_phase() -> None:
    t = START + np.array([0.0, YEAR / 4, YEAR / 2])
    f = features(t, YEAR, 2)
    assert f.shape == (3, 4)
    phase = 2 * np.pi * (t % YEAR) / YEAR
    np.testing.assert_allclose(f[:, 0], np.sin(phase))
    np.testing.assert_allclose(f[:, 3], np.cos(2 * phase))
    calendar = Calendar.of(YEAR, np.array([1.0, 2.0, 3.0, 4.0]), MONTH)
    np.testing.assert_allclose(calendar.effect(t), f @ np.array([1.0, 2.0, 3.0, 4.0]))
    assert Calendar.from_dict(json.loads(json.dumps(calendar.to_dict()))).effect(t) == pytest.approx(calendar.effect(t))


def test_which_cycles_a_series_can_learn() -> None:
    assert max_harmonics(YEAR, MONTH) == 3 and max_harmonics(YEAR, 91 * DAY) == 1 and max_harmonics(YEAR, YEAR) == 0
    assert natural_periods(3600.0, 30 * DAY) == [DAY, WEEK]
    assert natural_periods(DAY, 3 * YEAR) == [WEEK, YEAR]
    assert natural_periods(MONTH, 1.5 * YEAR) == []  # fewer than two years
    assert natural_periods(YEAR, 100 * YEAR) == []


def test_the_served_unit_is_the_least_squares_regression_on_lags_and_calendar_terms() -> None:
    values, times = _monthly()
    hp = Hyperparameters(window_size=2, differencing="first", calendar_period=YEAR, calendar_harmonics=3)
    (model,) = fit_many([hp], [values], solver="exact", times=[times])
    # By hand: d_t on d_{t-1}, d_{t-2}, the six terms of t, and a constant.
    d = np.diff(values)
    rows = np.arange(2, len(d))
    design = np.column_stack([d[rows - 1], d[rows - 2], features(times[rows + 1], YEAR, 3), np.ones(len(rows))])
    beta = np.linalg.lstsq(design, d[rows], rcond=None)[0]
    by_hand = values[rows] + design @ beta
    windows = np.lib.stride_tricks.sliding_window_view(values, 3)[:-1]
    np.testing.assert_allclose(model.predict(windows, times[3:]), by_hand, rtol=1e-9, atol=1e-9)
    # The descent reaches the same unit.
    trained = PerceptronForecaster(hp).fit(values, times=times)
    np.testing.assert_allclose(trained.predict(windows, times[3:]), by_hand, rtol=0, atol=1e-3)


def test_the_calendar_beats_the_same_window_without_it_on_a_fixed_yearly_shape() -> None:
    values, times = _monthly(300, seed=2)
    start = 240
    plain = PerceptronForecaster(Hyperparameters(window_size=2)).fit(values[:start])
    dated = PerceptronForecaster(Hyperparameters(window_size=2, calendar_period=YEAR, calendar_harmonics=3))
    dated.fit(values[:start], times=times[:start])

    def rmse(model: PerceptronForecaster, stamps: np.ndarray | None) -> float:
        return float(np.sqrt(np.mean((holdout_predictions(model, values, start, stamps) - values[start:]) ** 2)))

    assert rmse(dated, times) < 0.8 * rmse(plain, None)
    # The phase is read from the timestamps: half a year off, the forecasts are worse than none.
    assert rmse(dated, times + YEAR / 2) > rmse(plain, None)


def test_recursive_forecasts_advance_the_date_by_the_step() -> None:
    values, _ = _monthly()
    times = START + MONTH * np.arange(len(values))  # twelve a year, not on a day of the month
    model = PerceptronForecaster(Hyperparameters(window_size=3, calendar_period=YEAR, calendar_harmonics=2))
    model.fit(values, times=times)
    assert model.calendar.step == pytest.approx(MONTH) and model.calendar.months == 0
    window = values[-3:]
    first = times[-1] + model.calendar.step
    steps = model.forecast_windows(window, 4, first)[0]
    buffer, stamp = list(window), first
    for expected in steps:
        assert model.predict(np.array(buffer[-3:]), stamp)[0] == pytest.approx(expected)
        buffer.append(expected)
        stamp += model.calendar.step
    point, _, _ = model.forecast_last(list(window), 1, first)
    assert point[0] == pytest.approx(steps[0])


def _month_starts(first: str, count: int, months: int = 1) -> np.ndarray:
    starts = np.datetime64(first, "M") + months * np.arange(count)
    return starts.astype("datetime64[s]").astype(np.int64).astype(float)


def test_a_monthly_calendar_steps_by_calendar_months_and_takes_dates_a_caller_knows() -> None:
    """Calendar months are 28 to 31 days: twelve steps of the mean month drift a week off the
    month starts. A model trained on month starts steps by months; any caller may pass every
    step's date instead."""
    values, times = _monthly()
    model = PerceptronForecaster(Hyperparameters(window_size=3, calendar_period=YEAR, calendar_harmonics=2))
    model.fit(values, times=times)
    assert model.calendar.months == 1
    window = values[-3:]
    months = _month_starts("2020-01", 12)
    steps = model.forecast_windows(window, 12, months[None, :])[0]
    buffer = list(window)
    for stamp, expected in zip(months, steps, strict=True):
        assert model.predict(np.array(buffer[-3:]), stamp)[0] == pytest.approx(expected)
        buffer.append(expected)
    np.testing.assert_allclose(model.forecast_windows(window, 12, months[0])[0], steps, rtol=1e-12)
    mean_month = months[0] + model.calendar.step * np.arange(12)
    by_step = model.forecast_windows(window, 12, mean_month[None, :])[0]
    assert by_step[0] == pytest.approx(steps[0]) and not np.allclose(by_step[1:], steps[1:])
    assert model.forecast_last(list(window), 12, months.tolist())[0] == pytest.approx(steps.tolist())
    with pytest.raises(ForecastInputError, match="1 x 12 finite epoch seconds"):
        model.forecast_windows(window, 12, months[None, :11])
    # A first date past the 28th has no same day in every month: the mean step.
    late = months[0] + 30 * DAY
    np.testing.assert_allclose(model.calendar.targets(late, 1, 3)[0], late + model.calendar.step * np.arange(3))


def test_which_series_step_by_calendar_months() -> None:
    assert months_apart(_month_starts("2001-01", 24)) == 1
    assert months_apart(_month_starts("2001-01", 12, 3) + 12 * 3600) == 3  # noon on the first of a quarter
    assert months_apart(_month_starts("1901-01", 30, 12)) == 12
    assert months_apart(START + 30 * DAY * np.arange(24)) == 0  # every 30 days
    month_ends = _month_starts("2001-02", 24) - DAY
    assert months_apart(month_ends) == 0  # the 31st, 28th, 31st, 30th...
    assert months_apart(START + 3600 * np.arange(100)) == 0
    assert months_apart(np.delete(_month_starts("2001-01", 24), 5)) == 0  # a missing month


def test_known_dates_ahead_are_the_series_own_then_the_mean_step() -> None:
    times = np.array([0.0, 10.0, 30.0, 40.0])
    ahead = known_ahead(times, np.array([1, 2]), 4)
    np.testing.assert_allclose(ahead, [[10.0, 30.0, 40.0, 40.0 + 40 / 3], [30.0, 40.0, 40.0 + 40 / 3, 40.0 + 80 / 3]])


def test_a_calendar_model_without_times_says_what_to_send() -> None:
    values, times = _monthly()
    hp = Hyperparameters(window_size=2, calendar_period=YEAR, calendar_harmonics=1)
    with pytest.raises(ForecastInputError, match="training series' timestamps"):
        PerceptronForecaster(hp).fit(values)
    model = PerceptronForecaster(hp).fit(values, times=times)
    with pytest.raises(ForecastInputError, match="reads the calendar"):
        model.predict(values[-2:])
    with pytest.raises(ForecastInputError, match="must be 2 finite epoch seconds"):
        model.predict(np.stack([values[-2:], values[-3:-1]]), [1.0, 2.0, 3.0])
    with pytest.raises(ForecastInputError, match="both 0 or both positive"):
        Hyperparameters(calendar_period=YEAR)


def test_saved_and_combined_calendar_models_forecast_the_same() -> None:
    values, times = _monthly()
    dated = PerceptronForecaster(Hyperparameters(window_size=2, calendar_period=YEAR, calendar_harmonics=3))
    dated.fit(values, times=times)
    plain = PerceptronForecaster(Hyperparameters(window_size=5)).fit(values)
    windows = np.lib.stride_tricks.sliding_window_view(values, 5)[:-1]
    stamps = times[5:]
    loaded = model_format.loads(model_format.dumps(dated))
    np.testing.assert_array_equal(loaded.predict(windows[:, -2:], stamps), dated.predict(windows[:, -2:], stamps))
    assert loaded.calendar.months == dated.calendar.months == 1
    assert loaded.structure[0].calendar_harmonics == 3 and loaded.structure[0].calendar_period == YEAR
    both = combine([dated, plain], [0.25, 0.75])
    expected = 0.25 * dated.predict(windows[:, -2:], stamps) + 0.75 * plain.predict(windows)
    np.testing.assert_allclose(both.predict(windows, stamps), expected, rtol=1e-10)
    again = model_format.loads(model_format.dumps(both))
    np.testing.assert_allclose(again.forecast_windows(windows, 3, stamps), both.forecast_windows(windows, 3, stamps))


def test_a_model_file_whose_calendar_and_members_disagree_is_refused() -> None:
    values, times = _monthly()
    model = PerceptronForecaster(Hyperparameters(window_size=2, calendar_period=YEAR, calendar_harmonics=1))
    document = model_format.to_dict(model.fit(values, times=times))
    document["calendar"] = None
    with pytest.raises(model_format.ModelFormatError, match="no calendar"):
        model_format.from_dict(document)
    document = model_format.to_dict(model)
    document["calendar"]["terms"][0]["sin"] = "x"
    with pytest.raises(model_format.ModelFormatError, match="calendar is malformed"):
        model_format.from_dict(document)
    document = model_format.to_dict(model)
    document["calendar"]["step_months"] = 2
    with pytest.raises(model_format.ModelFormatError, match="step_months must be one of 0, 1, 3, 12"):
        model_format.from_dict(document)
    del document["calendar"]["step_months"]  # written before it: the mean step
    assert model_format.from_dict(document).calendar.months == 0


def test_selection_offers_the_calendar_only_with_timestamps_and_picks_it_when_it_pays() -> None:
    assert not any(hp.calendar_harmonics for hp in candidate_grid(MONTH, 200, 1000))
    dated = [hp for hp in candidate_grid(MONTH, 200, 1000, calendar=True) if hp.calendar_harmonics]
    assert dated and {hp.calendar_period for hp in dated} == {YEAR}
    assert {hp.calendar_harmonics for hp in dated} == {3}
    assert dated[0] in candidate_grid(MONTH, 200, 40, calendar=True)  # a cap keeps them
    values, times = _monthly(300, seed=4)
    start = 240
    selection = select(values[:start], MONTH, times=times[:start])
    assert any(member.hyperparameters.calendar_harmonics for member in selection.members)
    assert selection.model.calendar is not None
    blind = select(values[:start], MONTH)
    assert blind.model.calendar is None

    def rmse(model: PerceptronForecaster, stamps: np.ndarray | None) -> float:
        return float(np.sqrt(np.mean((holdout_predictions(model, values, start, stamps) - values[start:]) ** 2)))

    # Near the noise floor (0.5) on this holdout both do about as well; the backtest tells them apart.
    assert min(selection.strategy_rmse.values()) < 0.9 * min(blind.strategy_rmse.values())
    assert rmse(selection.model, times) < 1.05 * rmse(blind.model, None)
