"""The monitoring report of one series: one self-contained HTML page (inline CSS and SVG, no
script, no font, nothing fetched), served by the API at /reports/{model} and kept as an artifact
of the monitoring run. What a person opens to see whether today's forecasts are still good."""

import html
from datetime import UTC, datetime
from typing import Any

import numpy as np

from core.charts import Band, Chart, Line, Marker
from pipelines import live

ROLLING = 24  # one-step errors per point of the rolling error and coverage
SHOWN = 720  # most recent targets drawn

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1160px;
color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#666}.bad{color:#b00020;font-weight:600}.good{color:#1b7f3b;font-weight:600}
table{border-collapse:collapse;margin:6px 0}td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:right}
th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}svg{max-width:100%;height:auto}
"""


def render(doc: dict[str, Any], joined: live.Joined, champion: str | None) -> str:
    model = doc["model"]
    parts = [
        f"<h1>{_e(model)}</h1>",
        f"<p class=muted>{_e(_series(doc.get('series')))} · measured {_e(_when(doc.get('updated_at')))} over the "
        f"last {doc.get('window_days')} days of logged forecasts</p>",
        f"<p>Drift: {_drift_sentence(doc.get('drift') or {})}. Action: {_e(doc.get('action', 'none'))}.</p>",
        "<h2>Live accuracy</h2>",
        _figures_table(doc.get("roles") or {}),
    ]
    if champion is not None:
        served = (joined.forecasts.role == "champion") & joined.matched  # every version that served, in turn
        if served.any():
            parts += _charts(doc, joined, served)
            steps = _steps_table((doc.get("roles") or {}).get("champion") or {})
            parts += ["<h2>By horizon step (champion)</h2>", steps]
        else:
            parts.append(_waiting(doc, joined))
    parts += ["<h2>Drift tests</h2>", _drift_table(doc.get("drift") or {})]
    parts += ["<h2>What mlts did</h2>", _events_table(doc.get("events") or [])]
    title = f"mlts monitoring: {_e(model)}"
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )


def _waiting(doc: dict[str, Any], joined: live.Joined) -> str:
    """Instead of empty charts: why there is nothing to plot yet, and what will fill them."""
    targets = joined.forecasts.target_ms[joined.forecasts.role == "champion"]
    newest = _when(datetime.fromtimestamp(int(targets.max()) / 1000, UTC)) if len(targets) else "none"
    return (
        f"<p class=muted>No actual value has arrived yet for the champion's {len(targets)} logged forecasts "
        f"(the latest target: {_e(newest)}). The charts appear once readings with those timestamps reach "
        f"{_e(_series(doc.get('series')))}.</p>"
    )


def _charts(doc: dict[str, Any], joined: live.Joined, rows: np.ndarray) -> list[str]:
    f = joined.forecasts
    one = rows & (f.step == 1)
    order = np.argsort(f.target_ms[one], kind="stable")[-SHOWN:]
    times = f.target_ms[one][order].astype("datetime64[ms]")
    actual, value = joined.actual[one][order], f.value[one][order]
    lower, upper = f.lower[one][order], f.upper[one][order]
    markers = _markers(doc, times)
    forecast = Chart(
        "Served forecasts (one step ahead) against what happened; markers: drift, retraining, promotion",
        lines=[Line(times, actual, "actual", color="#222222", width=1.2), Line(times, value, "forecast", "#d62728")],
        bands=[Band(times, lower, upper, "prediction interval")] if np.isfinite(lower).any() else [],
        markers=markers,
        width=1120,
    )
    errors = actual - value
    holdout = ((doc.get("roles") or {}).get("champion") or {}).get("holdout_rmse")
    rolling = np.sqrt(_rolling_mean(errors * errors))
    error_lines = [Line(times, rolling, f"live RMSE (rolling {ROLLING})", "#d62728")]
    if holdout:
        error_lines.append(Line(times, np.full(len(times), holdout), "holdout RMSE", "#1f77b4", dashed=True))
    error = Chart("Live error over time against the champion's holdout RMSE", lines=error_lines, markers=markers)
    inside = ((actual >= lower) & (actual <= upper)).astype(np.float64)
    inside[~np.isfinite(actual)] = np.nan
    level = float(doc.get("interval_level") or 0.9)
    coverage = Chart(
        "Interval coverage over time",
        lines=[
            Line(times, _rolling_mean(inside), f"coverage (rolling {ROLLING})", "#2ca02c"),
            Line(times, np.full(len(times), level), f"level {level:.0%}", "#555555", dashed=True),
        ],
        markers=markers,
    )
    return ["<h2>Forecasts and actuals</h2>", forecast.svg(), error.svg(), coverage.svg()]


def _rolling_mean(values: np.ndarray, window: int = ROLLING) -> np.ndarray:
    """Mean over the last `window` finite values at each point (NaN before any)."""
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    n = counts[ends] - counts[starts]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[ends] - sums[starts]) / np.maximum(n, 1), np.nan)


def _markers(doc: dict[str, Any], times: np.ndarray) -> list[Marker]:
    if not len(times):
        return []
    found = []
    for event in doc.get("events") or []:
        at = event.get("target_ms")
        if at is not None and times[0] <= np.datetime64(int(at), "ms") <= times[-1]:
            found.append(Marker(np.datetime64(int(at), "ms"), event["kind"], "#b00020"))
    return found


def _figures_table(roles: dict[str, Any]) -> str:
    head = "<tr><th>role</th><th>version</th><th>actuals</th><th>MAE</th><th>RMSE</th><th>holdout RMSE</th>"
    head += "<th>MASE</th><th>bias</th><th>coverage</th></tr>"
    body = []
    for role, f in roles.items():
        worse = f.get("rmse") and f.get("holdout_rmse") and f["rmse"] > 1.5 * f["holdout_rmse"]
        rmse = f"<span class=bad>{_n(f.get('rmse'))}</span>" if worse else _n(f.get("rmse"))
        cells = [role, f.get("version"), f.get("n"), _n(f.get("mae")), rmse, _n(f.get("holdout_rmse"))]
        cells += [_n(f.get("mase")), _n(f.get("bias")), _n(f.get("coverage"))]
        body.append("<tr>" + "".join(f"<td>{c if str(c).startswith('<') else _e(c)}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(body) or '<tr><td>no served version yet</td></tr>'}</table>"


def _steps_table(figures: dict[str, Any]) -> str:
    steps = figures.get("per_step") or {}
    rows = "".join(
        f"<tr><td>{_e(step)}</td><td>{_e(s.get('n'))}</td><td>{_n(s.get('mae'))}</td><td>{_n(s.get('rmse'))}</td>"
        f"<td>{_n(s.get('coverage'))}</td></tr>"
        for step, s in sorted(steps.items(), key=lambda item: int(item[0]))
    )
    return f"<table><tr><th>step</th><th>actuals</th><th>MAE</th><th>RMSE</th><th>coverage</th></tr>{rows}</table>"


def _drift_table(drift: dict[str, Any]) -> str:
    rows = []
    for kind, words in (("performance", "errors against the holdout (CUSUM)"), ("data", "inputs (KS, PSI)")):
        test = drift.get(kind) or {}
        shown = {
            k: v
            for k, v in test.items()
            if k not in ("detected", "name") and v is not None and not isinstance(v, dict | list)
        }
        verdict = "<span class=bad>drift</span>" if test.get("detected") else "<span class=good>calm</span>"
        details = ", ".join(f"{_e(k)} {_n(v) if isinstance(v, float) else _e(v)}" for k, v in shown.items())
        rows.append(f"<tr><td>{kind}: {words}</td><td>{verdict}</td><td style=text-align:left>{details}</td></tr>")
    return f"<table><tr><th>test</th><th>verdict</th><th>evidence</th></tr>{''.join(rows)}</table>"


def _events_table(events: list[dict[str, Any]]) -> str:
    if not events:
        return "<p class=muted>Nothing yet: no drift, retraining, promotion or alert.</p>"
    rows = "".join(
        f"<tr><td>{_e(_when(e.get('at')))}</td><td>{_e(e.get('kind'))}</td><td style=text-align:left>"
        f"{_e(e.get('text'))}</td></tr>"
        for e in reversed(events)
    )
    return f"<table><tr><th>when</th><th>what</th><th>detail</th></tr>{rows}</table>"


def _drift_sentence(drift: dict[str, Any]) -> str:
    kinds = [k for k in ("performance", "data") if (drift.get(k) or {}).get("detected")]
    return f"<span class=bad>{' and '.join(kinds)}</span>" if kinds else "<span class=good>none</span>"


def _series(series: dict[str, Any] | None) -> str:
    if not series:
        return "series unknown"
    where = ", ".join(f"{k}={v}" for k, v in (series.get("filter") or {}).items())
    return f"{series.get('collection')}.{series.get('value_field')}" + (f" where {where}" if where else "")


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if isinstance(moment, datetime) else str(moment or "")


def _n(value: Any) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else html.escape(str(value))


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))
