"""SVG charts: well-formed, complete, and honest about gaps in the data."""

import xml.etree.ElementTree as ET

import numpy as np

from core.charts import Band, Chart, Line, Marker

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_a_time_chart_has_its_lines_band_marker_legend_and_dated_ticks() -> None:
    times = np.datetime64("2024-01-01T00:00") + np.arange(500).astype("timedelta64[h]")
    values = np.sin(np.arange(500) / 24)
    chart = Chart(
        "forecast <vs> actual",
        lines=[Line(times, values, "actual"), Line(times, values + 0.1, "forecast", dashed=True)],
        bands=[Band(times, values - 0.2, values + 0.3, "interval")],
        markers=[Marker(times[250], "drift detected")],
    )
    root = _parse(chart.svg())
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "forecast <vs> actual" in texts and {"actual", "forecast", "interval", "drift detected"} <= set(texts)
    assert any(text and text.startswith("2024-01-") for text in texts)
    assert len(root.findall(f".//{SVG}polyline")) == 2 and len(root.findall(f".//{SVG}polygon")) == 1
    assert "http" not in chart.svg().replace("http://www.w3.org/2000/svg", "")


def test_nan_breaks_a_line_and_long_series_are_thinned() -> None:
    values = np.arange(10_000, dtype=float)
    values[4000:4100] = np.nan
    root = _parse(Chart("x", lines=[Line(np.arange(10_000), values, "v")], width=600).svg())
    polylines = root.findall(f".//{SVG}polyline")
    assert len(polylines) == 2
    assert sum(len(p.get("points").split()) for p in polylines) <= 2 * 600


def test_log_scale_constant_and_empty_series_still_draw() -> None:
    assert "1e-2" in Chart("loss", lines=[Line(np.arange(1, 100), np.geomspace(1, 0.01, 99), "l")], log_y=True).svg()
    _parse(Chart("flat", lines=[Line(np.arange(10), np.full(10, 3.0), "c")]).svg())
    assert "no data" in Chart("empty", lines=[Line(np.arange(3), np.full(3, np.nan), "n")]).svg()
