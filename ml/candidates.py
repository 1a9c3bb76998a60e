"""Which linear units are worth trying on a series: candidates sized to its sampling step and
length (windows, differencing, seasonal lags, calendar terms), each with enough training windows
per parameter. `ml.selection` scores them by backtest and chooses.
"""

from ml import calendar_inputs as cal
from ml.baselines import candidate_seasons
from ml.forecaster import Hyperparameters

DEFAULT_WINDOW = 24
DEFAULT_MAX_CANDIDATES = 40
SAMPLES_PER_PARAMETER = 3
SMALL_WINDOWS = (1, 2, 3, 4, 6, 8, 12, 16, 24)
SEASONAL_WINDOWS = (1, 2, 3)
SEASONAL_LAGS = (2,)
CALENDAR_WINDOWS = (1, 2, 3, 6, 12)


def fixed_window(n_points: int, window: int = DEFAULT_WINDOW, samples_per_parameter: int = 1) -> int:
    """The default window, capped so the unit keeps `samples_per_parameter` training windows per
    parameter (one: the fixed-window perceptron's bare minimum)."""
    return max(1, min(window, (n_points - samples_per_parameter) // (samples_per_parameter + 1)))


def feasible(hp: Hyperparameters, n_points: int, samples_per_parameter: int = SAMPLES_PER_PARAMETER) -> bool:
    """Whether `n_points` give the unit `samples_per_parameter` training windows per parameter."""
    return n_points - hp.effective_window >= samples_per_parameter * hp.parameters


def candidate_grid(
    step_seconds: float,
    n_points: int,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
    default_window: int = DEFAULT_WINDOW,
    base: Hyperparameters | None = None,
    calendar: bool = False,
) -> list[Hyperparameters]:
    """Candidates for a series sampled every `step_seconds`, each fittable on `n_points` (the
    shortest training series of the backtest), the default fixed window first and then from
    the fewest parameters up, so `max_candidates` drops the largest.

    Without a season: windows 1..24 on the raw, once- and twice-differenced series. With
    seasons (see `baselines.candidate_seasons`): also windows of a season and one more,
    seasonal and seasonal-plus-first differencing with short windows or a full season, and
    short windows with the inputs s and 2s added. With `calendar` (the series has timestamps):
    short windows on the raw and once-differenced series reading one and the most harmonics of
    each natural cycle (day, week, year) the series covers twice (`calendar_inputs.natural_periods`).
    A candidate needs SAMPLES_PER_PARAMETER training windows per parameter, so short series get
    short windows only."""
    base = base or Hyperparameters()
    descent = base.descent
    seasons = candidate_seasons(step_seconds, n_points)
    found: dict[Hyperparameters, None] = {}  # insertion-ordered set

    def add(
        window: int,
        differencing: str,
        season: int = 1,
        lags: int = 0,
        samples: int = SAMPLES_PER_PARAMETER,
        period: float = 0.0,
        harmonics: int = 0,
    ) -> None:
        hp = Hyperparameters(
            window_size=window,
            differencing=differencing,
            season_length=season,
            seasonal_lags=lags,
            calendar_period=period,
            calendar_harmonics=harmonics,
            **descent,
        )
        if hp not in found and feasible(hp, n_points, samples):
            found[hp] = None

    add(fixed_window(n_points, default_window), "none", samples=1)
    for differencing in ("none", "first", "second"):
        for window in (*SMALL_WINDOWS, *(w for s in seasons[:1] for w in (s, s + 1))):
            add(window, differencing)
        for season in seasons:
            for window in (*SEASONAL_WINDOWS, *(w for s in seasons if s < season for w in (s, s + 1))):
                for lags in SEASONAL_LAGS:
                    add(window, differencing, season, lags)
    for season in seasons:
        for differencing in ("seasonal", "both"):
            shorter = [w for s in seasons if s <= season for w in (s, s + 1)]
            for window in (*SEASONAL_WINDOWS, *shorter):
                add(window, differencing, season)
            for window in SEASONAL_WINDOWS:
                for lags in SEASONAL_LAGS:
                    add(window, differencing, season, lags)
    if calendar:
        for period in cal.natural_periods(step_seconds, n_points * step_seconds):
            for differencing in ("none", "first"):
                for window in CALENDAR_WINDOWS:
                    add(window, differencing, period=period, harmonics=cal.max_harmonics(period, step_seconds))
    if not found:
        return []
    default, *rest = found
    rest.sort(key=_size)
    return [default, *rest][: max(1, max_candidates)]


def _size(hp: Hyperparameters) -> tuple[int, int]:
    """The order candidates are kept in under a cap: the window's inputs count, the calendar
    terms as one (they cost no window and little time)."""
    return hp.parameters - hp.calendar_inputs + (hp.calendar_inputs > 0), hp.effective_window
