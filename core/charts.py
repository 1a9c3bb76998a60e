"""Line charts as self-contained SVG: numbers in, one string out.

The training plots in the MLflow UI and the monitoring report are drawn here, without a plotting
library: a chart costs about a millisecond, is safe on any thread, loads nothing from anywhere
(plants are offline), and stays sharp at any zoom. Long series are thinned to what the width can
show; NaN breaks a line instead of drawing through the gap.
"""

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
_TIME_STEPS_S = (
    *(1, 5, 15, 30),
    *(60 * minutes for minutes in (1, 5, 15, 30)),
    *(3600 * hours for hours in (1, 3, 6, 12)),
    *(86400 * days for days in (1, 2, 7, 14, 30, 91, 182, 365)),
)


@dataclass(frozen=True)
class Line:
    x: np.ndarray
    y: np.ndarray
    label: str
    color: str | None = None
    width: float = 1.5
    dashed: bool = False


@dataclass(frozen=True)
class Band:
    """A shaded range between `lower` and `upper` (a prediction interval)."""

    x: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    label: str
    color: str = "#d62728"
    opacity: float = 0.18


@dataclass(frozen=True)
class Marker:
    """A vertical rule at `x` with a short label (a drift alarm, a retraining, a promotion)."""

    x: float | np.datetime64
    label: str
    color: str = "#555555"


@dataclass
class Chart:
    title: str
    lines: Sequence[Line] = ()
    bands: Sequence[Band] = ()
    markers: Sequence[Marker] = ()
    x_label: str = ""
    y_label: str = ""
    log_y: bool = False
    width: int = 900
    height: int = 340
    margins: tuple[int, int, int, int] = field(default=(36, 18, 48, 64))  # top, right, bottom, left

    def svg(self) -> str:
        return _render(self)


def _as_float(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """x as float seconds (datetimes) or floats, and whether it was time."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.datetime64):
        return x.astype("datetime64[ms]").astype(np.int64).astype(np.float64) / 1000.0, True
    return x.astype(np.float64), False


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _ticks(low: float, high: float, target: int = 6) -> np.ndarray:
    step = _nice_step(high - low, target)
    start = math.ceil(low / step) * step
    return np.arange(start, high + step * 1e-9, step)


def _time_ticks(low: float, high: float, target: int = 7) -> tuple[np.ndarray, str]:
    span = high - low
    step = next((s for s in _TIME_STEPS_S if span / s <= target), _TIME_STEPS_S[-1])
    start = math.ceil(low / step) * step
    ticks = np.arange(start, high + 1e-9, step)
    unit = "%Y-%m-%d" if step >= 86400 else ("%m-%d %H:%M" if span > 86400 else "%H:%M")
    return ticks, unit


def _format_time(seconds: float, unit: str) -> str:
    stamp = np.datetime64(int(round(seconds * 1000)), "ms").astype(object)
    return stamp.strftime(unit)


def _format_number(value: float, step: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.2g}"
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 2
    return f"{value:.{min(decimals, 6)}f}"


def _thin(x: np.ndarray, ys: list[np.ndarray], most: int) -> tuple[np.ndarray, list[np.ndarray]]:
    step = max(1, int(math.ceil(len(x) / most)))
    return x[::step], [y[::step] for y in ys]


def _render(chart: Chart) -> str:
    top, right, bottom, left = chart.margins
    plot_w, plot_h = chart.width - left - right, chart.height - top - bottom
    most = 2 * plot_w
    xs, ys, time_axis = [], [], False
    for line in chart.lines:
        x, time_axis = _as_float(line.x)
        xs.append(x)
        ys.append(np.asarray(line.y, dtype=np.float64))
    for band in chart.bands:
        x, time_axis = _as_float(band.x)
        xs.append(x)
        ys += [np.asarray(band.lower, dtype=np.float64), np.asarray(band.upper, dtype=np.float64)]
    finite_x = np.concatenate([x[np.isfinite(x)] for x in xs]) if xs else np.empty(0)
    finite_y = np.concatenate([y[np.isfinite(y) & ((y > 0) | (not chart.log_y))] for y in ys]) if ys else np.empty(0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{chart.width}" height="{chart.height}" '
        f'viewBox="0 0 {chart.width} {chart.height}" font-family="Helvetica, Arial, sans-serif" font-size="11">',
        f'<rect width="{chart.width}" height="{chart.height}" fill="white"/>',
        f'<text x="{chart.width / 2:.1f}" y="20" text-anchor="middle" font-size="13">{html.escape(chart.title)}</text>',
    ]
    if not len(finite_x) or not len(finite_y):
        parts.append(
            f'<text x="{chart.width / 2:.1f}" y="{chart.height / 2:.1f}" text-anchor="middle" '
            'fill="#888">no data</text></svg>'
        )
        return "".join(parts)
    x_low, x_high = float(finite_x.min()), float(finite_x.max())
    if x_high == x_low:
        x_low, x_high = x_low - 1, x_high + 1
    transform = np.log10 if chart.log_y else (lambda v: v)
    y_low, y_high = float(transform(finite_y.min())), float(transform(finite_y.max()))
    pad = (y_high - y_low) * 0.05 or (abs(y_high) * 0.05 or 1.0)
    y_low, y_high = y_low - pad, y_high + pad

    def px(x: np.ndarray) -> np.ndarray:
        return left + (x - x_low) / (x_high - x_low) * plot_w

    def py(y: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return top + (1 - (transform(y) - y_low) / (y_high - y_low)) * plot_h

    parts.append(_axes(chart, left, top, plot_w, plot_h, x_low, x_high, y_low, y_high, time_axis, px))
    parts.append(f'<clipPath id="plot"><rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}"/></clipPath>')
    parts.append('<g clip-path="url(#plot)">')
    legend: list[tuple[str, str, str]] = []
    for band in chart.bands:
        x, _ = _as_float(band.x)
        x, (low, high) = _thin(x, [np.asarray(band.lower, float), np.asarray(band.upper, float)], most)
        for segment in _segments(np.isfinite(low) & np.isfinite(high) & np.isfinite(x)):
            upper = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px(x[segment]), py(high[segment])))
            lower = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px(x[segment])[::-1], py(low[segment])[::-1]))
            parts.append(f'<polygon points="{upper} {lower}" fill="{band.color}" fill-opacity="{band.opacity}"/>')
        legend.append((band.label, band.color, "band"))
    for index, line in enumerate(chart.lines):
        color = line.color or PALETTE[index % len(PALETTE)]
        x, _ = _as_float(line.x)
        x, (y,) = _thin(x, [np.asarray(line.y, float)], most)
        valid = np.isfinite(x) & np.isfinite(y) & ((y > 0) | (not chart.log_y))
        dash = ' stroke-dasharray="5,3"' if line.dashed else ""
        for segment in _segments(valid):
            points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px(x[segment]), py(y[segment])))
            if segment.stop - segment.start == 1:
                cx, cy = points.split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{color}"/>')
            else:
                parts.append(
                    f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="{line.width}"{dash}/>'
                )
        legend.append((line.label, color, "dash" if line.dashed else "line"))
    parts.append("</g>")
    for marker in chart.markers:
        (value,), _ = _as_float(np.array([marker.x]))
        if x_low <= value <= x_high:
            x = float(px(np.array(value)))
            parts.append(
                f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="{marker.color}" '
                'stroke-dasharray="3,3"/>'
            )
            parts.append(
                f'<text x="{x + 3:.1f}" y="{top + 12}" fill="{marker.color}" font-size="10">'
                f"{html.escape(marker.label)}</text>"
            )
    parts.append(_legend(legend, left + 8, top + 8))
    parts.append("</svg>")
    return "".join(parts)


def _segments(valid: np.ndarray) -> list[slice]:
    """Runs of True: the pieces of a line between gaps."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(np.int8), [0]])))
    return [slice(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _axes(
    chart: Chart,
    left: int,
    top: int,
    width: int,
    height: int,
    x_low: float,
    x_high: float,
    y_low: float,
    y_high: float,
    time_axis: bool,
    px,
) -> str:
    parts = [f'<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" stroke="#bbb"/>']
    if chart.log_y:
        ticks = np.arange(math.ceil(y_low), math.floor(y_high) + 1)
        labels = [f"1e{int(t)}" for t in ticks]
    else:
        ticks = _ticks(y_low, y_high)
        step = float(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
        labels = [_format_number(float(t), step) for t in ticks]
    for tick, label in zip(ticks, labels):
        y = top + (1 - (tick - y_low) / (y_high - y_low)) * height
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#444">{label}</text>')
    if time_axis:
        xticks, unit = _time_ticks(x_low, x_high)
        xlabels = [_format_time(t, unit) for t in xticks]
    else:
        xticks = _ticks(x_low, x_high, 8)
        step = float(xticks[1] - xticks[0]) if len(xticks) > 1 else 1.0
        xlabels = [_format_number(float(t), step) for t in xticks]
    for tick, label in zip(xticks, xlabels):
        x = float(px(np.array(tick)))
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + height}" stroke="#f2f2f2"/>')
        parts.append(f'<text x="{x:.1f}" y="{top + height + 16}" text-anchor="middle" fill="#444">{label}</text>')
    if chart.x_label:
        parts.append(
            f'<text x="{left + width / 2:.1f}" y="{top + height + 36}" text-anchor="middle">'
            f"{html.escape(chart.x_label)}</text>"
        )
    if chart.y_label:
        y = top + height / 2
        parts.append(
            f'<text x="14" y="{y:.1f}" text-anchor="middle" transform="rotate(-90 14 {y:.1f})">'
            f"{html.escape(chart.y_label)}</text>"
        )
    return "".join(parts)


def _legend(entries: list[tuple[str, str, str]], x: int, y: int) -> str:
    if not entries:
        return ""
    width = 26 + 7 * max(len(label) for label, _, _ in entries)
    parts = [
        f'<rect x="{x}" y="{y}" width="{width}" height="{8 + 15 * len(entries)}" fill="white" '
        'fill-opacity="0.85" stroke="#ddd"/>'
    ]
    for index, (label, color, kind) in enumerate(entries):
        row = y + 12 + 15 * index
        if kind == "band":
            parts.append(f'<rect x="{x + 5}" y="{row - 5}" width="14" height="8" fill="{color}" fill-opacity="0.3"/>')
        else:
            dash = ' stroke-dasharray="4,2"' if kind == "dash" else ""
            parts.append(
                f'<line x1="{x + 5}" y1="{row - 1}" x2="{x + 19}" y2="{row - 1}" stroke="{color}" '
                f'stroke-width="2"{dash}/>'
            )
        parts.append(f'<text x="{x + 23}" y="{row + 3}" fill="#222">{html.escape(label)}</text>')
    return "".join(parts)
