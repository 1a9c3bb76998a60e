"""Accuracy of the perceptron, fixed and tuned, against baselines and statsforecast on real series.

`python -m bench.accuracy [NAME-PART ...]` reads every series in tests/data/series (or those whose
name contains one of the parts), trains each model on the first 80 % and prints a markdown table
of holdout RMSE (one-step forecasts over the last 20 %, each from the actual values before it,
with the model fitted once, as the training pipeline scores a model) and fit time:

- fixed: the perceptron with the default window (24, capped to the training length);
- tuned: `ml.selection.select` (backtest on the training part, with its timestamps so calendar
  inputs are among the candidates, then refit), time including the search;
- naive and seasonal naive (season from the sampling step);
- AutoARIMA and AutoETS from statsforecast (a benchmark-only dependency that `make bench`
  installs; run alone without it, their columns are skipped with a message). Their fit is
  timed after a warm-up, so numba's compilation is not counted; their one-step holdout forecasts
  come from `forward`, which filters the whole series with the parameters fitted on the training part.

Targets: tuned at least as accurate as AutoETS on every series, within 2 % of AutoARIMA or
better, at under 1 % of AutoARIMA's fit time. AutoARIMA takes minutes on the half-hourly and
weekly series (seasons of 48 and 52), so a full run takes 10 to 20 minutes on 2 cores.
`make bench` runs it last (`run`), its rows and targets in bench/results.md.
"""

import importlib.metadata
import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.report import Report
from ml import Hyperparameters, PerceptronForecaster
from ml.baselines import infer_season_length
from ml.candidates import fixed_window
from ml.evaluation import holdout_predictions
from ml.selection import select

SERIES = Path(__file__).resolve().parents[1] / "tests" / "data" / "series"
HOLDOUT_FRACTION = 0.2
ETS_TOLERANCE = 1.0
ARIMA_TOLERANCE = 1.02
TIME_SHARE = 0.01


@dataclass
class Row:
    name: str
    points: int
    holdout: int
    season: int
    rmse: dict[str, float]
    seconds: dict[str, float]
    chosen: str
    errors: dict[str, np.ndarray]


def load(path: Path) -> tuple[np.ndarray, float, np.ndarray]:
    """Values, the median sampling step in seconds and the epoch seconds of a `timestamp,value` file."""
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    stamps = np.array([np.datetime64(stamp.rstrip("Z"), "s") for stamp, _ in rows])
    step = float(np.median(np.diff(stamps).astype("timedelta64[s]").astype(np.float64)))
    return np.array([float(value) for _, value in rows]), step, stamps.astype(np.int64).astype(np.float64)


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted) - actual) ** 2)))


def equal_accuracy_p(errors: np.ndarray, other: np.ndarray) -> float:
    """Two-sided p-value that two forecasts' one-step squared errors on the same points have the
    same mean (Diebold-Mariano with h = 1, normal approximation): whether a holdout of a few dozen
    points can tell the two apart at all."""
    difference = np.asarray(errors) ** 2 - np.asarray(other) ** 2
    spread = float(np.std(difference, ddof=1)) / math.sqrt(len(difference))
    if not spread > 0:
        return 1.0
    return math.erfc(abs(float(np.mean(difference))) / spread / math.sqrt(2.0))


def statsforecast_models():
    """AutoARIMA and AutoETS, warmed up; None when statsforecast is not installed."""
    try:
        from statsforecast.models import AutoARIMA, AutoETS
    except ImportError:
        return None
    warm = np.sin(np.arange(48) / 2.0) + np.arange(48) * 0.1
    for model in (AutoARIMA, AutoETS):
        model(season_length=4).fit(warm).forward(y=warm, h=1, fitted=True)
    return {"AutoARIMA": AutoARIMA, "AutoETS": AutoETS}


def measure(path: Path, models: dict | None) -> Row:
    values, step, times = load(path)
    start = len(values) - int(round(HOLDOUT_FRACTION * len(values)))
    train, actual = values[:start], values[start:]
    season = infer_season_length(step)
    scores: dict[str, float] = {}
    seconds: dict[str, float] = {}

    began = time.perf_counter()
    fixed = PerceptronForecaster(Hyperparameters(window_size=fixed_window(start))).fit(train)
    seconds["fixed"] = time.perf_counter() - began
    scores["fixed"] = rmse(holdout_predictions(fixed, values, start), actual)

    began = time.perf_counter()
    selection = select(train, step, times=times[:start])
    seconds["tuned"] = time.perf_counter() - began
    seconds["tuned refit"] = selection.timings.get("refit", seconds["tuned"])
    tuned = holdout_predictions(selection.model, values, start, times)
    scores["tuned"] = rmse(tuned, actual)
    errors = {"tuned": tuned - actual}

    scores["naive"] = rmse(values[start - 1 : -1], actual)
    if season > 1:
        scores["seasonal naive"] = rmse(values[start - season : -season], actual)
    for name, model in (models or {}).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            began = time.perf_counter()
            fitted = model(season_length=season).fit(train)
            seconds[name] = time.perf_counter() - began
            one_step = fitted.forward(y=values, h=1, fitted=True)["fitted"][start:]
        scores[name] = rmse(one_step, actual)
        errors[name] = one_step - actual
    members = ", ".join(
        f"{member.hyperparameters.describe()} ({weight:.2f})"
        for member, weight in zip(selection.members, selection.weights)
    )
    return Row(path.stem, len(values), len(actual), season, scores, seconds, f"{selection.strategy}: {members}", errors)


def columns(rows: list[Row], with_statsforecast: bool) -> tuple[list[str], list[list[str]]]:
    head = ["series", "n (holdout)", "season", "fixed", "tuned", "naive", "seasonal naive"]
    if with_statsforecast:
        head += ["AutoARIMA", "AutoETS", "tuned / ARIMA", "tuned / ETS", "tuned time / ARIMA time"]
    cells_of = []
    for row in rows:
        cells = [row.name, f"{row.points} ({row.holdout})", str(row.season)]
        for name in ("fixed", "tuned", "naive", "seasonal naive"):
            cells.append(_cell(row, name))
        if with_statsforecast:
            cells += [_cell(row, "AutoARIMA"), _cell(row, "AutoETS")]
            arima, ets = row.rmse["tuned"] / row.rmse["AutoARIMA"], row.rmse["tuned"] / row.rmse["AutoETS"]
            share = row.seconds["tuned"] / row.seconds["AutoARIMA"]
            cells += [
                _verdict(row, "AutoARIMA", arima, ARIMA_TOLERANCE),
                _verdict(row, "AutoETS", ets, ETS_TOLERANCE),
                f"{share:.2%} {'✓' if share < TIME_SHARE else '✗'}",
            ]
        cells_of.append(cells)
    return head, cells_of


def table(rows: list[Row], with_statsforecast: bool) -> str:
    head, cells_of = columns(rows, with_statsforecast)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in cells_of])


def _verdict(row: Row, name: str, ratio: float, tolerance: float) -> str:
    """The ratio and whether it meets the target; a miss also says how likely a difference as
    large is between equally accurate forecasts on a holdout this short (p)."""
    if ratio <= tolerance:
        return f"{ratio:.3f} ✓"
    return f"{ratio:.3f} ✗ (p {equal_accuracy_p(row.errors['tuned'], row.errors[name]):.2f})"


def _misses(rows: list[Row]) -> str:
    """How many of the accuracy misses a Diebold-Mariano test tells apart from equal accuracy."""
    misses = [
        (row, name)
        for row in rows
        for name, tolerance in (("AutoARIMA", ARIMA_TOLERANCE), ("AutoETS", ETS_TOLERANCE))
        if row.rmse["tuned"] > tolerance * row.rmse[name]
    ]
    significant = sum(equal_accuracy_p(row.errors["tuned"], row.errors[name]) < 0.05 for row, name in misses)
    return (
        f"Of the {len(misses)} accuracy misses, {significant} differ from equal accuracy at the 5 % level "
        "(p: Diebold-Mariano test on the holdout's one-step squared errors)."
    )


def _cell(row: Row, name: str) -> str:
    if name not in row.rmse:
        return "–"
    value = f"{row.rmse[name]:.4g}"
    return value + (f" ({_duration(row.seconds[name])})" if name in row.seconds else "")


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.0f} s"


def summary(rows: list[Row], with_statsforecast: bool) -> str:
    lines = ["", "Holdout RMSE (fit time). Tuned models:"]
    lines += [f"- {row.name}: {row.chosen}; refit {_duration(row.seconds['tuned refit'])}" for row in rows]
    if with_statsforecast:
        ets = sum(row.rmse["tuned"] <= ETS_TOLERANCE * row.rmse["AutoETS"] for row in rows)
        arima = sum(row.rmse["tuned"] <= ARIMA_TOLERANCE * row.rmse["AutoARIMA"] for row in rows)
        fast = sum(row.seconds["tuned"] < TIME_SHARE * row.seconds["AutoARIMA"] for row in rows)
        lines += [
            "",
            f"Targets met: as accurate as AutoETS on {ets}/{len(rows)}, "
            f"within 2 % of AutoARIMA on {arima}/{len(rows)}, "
            f"under 1 % of AutoARIMA's fit time on {fast}/{len(rows)}.",
            _misses(rows),
        ]
    return "\n".join(lines)


def run(report: Report) -> None:
    """`make bench`'s accuracy rows (statsforecast installed by the Makefile, bench-only)."""
    models = statsforecast_models()
    if models is None:
        report.target("accuracy against statsforecast", "statsforecast installed", "not installed", False)
        return
    rows = []
    for path in sorted(SERIES.glob("*.csv")):
        print(f"... {path.stem}", file=sys.stderr, flush=True)
        rows.append(measure(path, models))
    n = len(rows)
    ets = sum(row.rmse["tuned"] <= ETS_TOLERANCE * row.rmse["AutoETS"] for row in rows)
    arima = sum(row.rmse["tuned"] <= ARIMA_TOLERANCE * row.rmse["AutoARIMA"] for row in rows)
    fast = sum(row.seconds["tuned"] < TIME_SHARE * row.seconds["AutoARIMA"] for row in rows)
    total = sum(row.seconds["tuned"] for row in rows) / sum(row.seconds["AutoARIMA"] for row in rows)
    report.target("mlts tune as accurate as AutoETS (holdout RMSE), public series", f"{n}/{n}", f"{ets}/{n}", ets == n)
    report.target("mlts tune within 2 % of AutoARIMA or better", f"{n}/{n}", f"{arima}/{n}", arima == n)
    report.target("mlts tune fit time under 1 % of AutoARIMA's, per series", f"{n}/{n}", f"{fast}/{n}", fast == n)
    report.target("mlts tune fit time against AutoARIMA's, all series together", "< 1 %", f"{total:.3%}", total < 0.01)
    head, cells_of = columns(rows, True)
    version = importlib.metadata.version("statsforecast")
    report.table(
        "accuracy",
        f"10. Accuracy against statsforecast {version} on {n} public series (holdout RMSE, fit time)",
        head,
        cells_of,
        "The last 20 % of each series is the holdout, scored by one-step forecasts from the actual values before "
        "each point; `tuned` is `mlts tune`'s selection (backtests on the training part, then refit), its time "
        "including the search. AutoARIMA and AutoETS are timed after a warm-up (numba's compilation not counted)."
        + summary(rows, True).replace("\n", "\n\n", 1),
    )


def main(parts: list[str]) -> None:
    paths = sorted(p for p in SERIES.glob("*.csv") if not parts or any(part in p.stem for part in parts))
    if not paths:
        raise SystemExit(f"no series in {SERIES} matches {parts}")
    models = statsforecast_models()
    if models is None:
        print(
            "statsforecast is not installed: skipping the AutoARIMA and AutoETS columns "
            "(`pip install statsforecast` to compare against them).\n",
            flush=True,
        )
    rows = []
    for path in paths:
        print(f"... {path.stem}", file=sys.stderr, flush=True)
        rows.append(measure(path, models))
    if models is not None:
        print(f"statsforecast {importlib.metadata.version('statsforecast')}, numpy {np.__version__}\n")
    print(table(rows, models is not None))
    print(summary(rows, models is not None))


if __name__ == "__main__":
    main(sys.argv[1:])
