"""Batch prediction: /predict/batch with 1, 100 and 10 000 windows, as JSON and as `.npy`,
against the model's own in-process `predict` (the ceiling). `python -m bench.batch`."""

import io
import json
import time

import httpx
import numpy as np

from bench.common import ensure_champion, mlts_serve, start, synthetic, wait_ready
from bench.report import Report, run_alone
from core.processes import free_port
from core.registry import client, load_version, version_by_alias
from core.settings import get_settings


def run(report: Report) -> None:
    name = ensure_champion()
    settings = get_settings()
    model = load_version(client(settings), version_by_alias(client(settings), name, settings.model_alias))
    port = free_port()
    url = f"http://127.0.0.1:{port}/predict/batch"
    rows = []
    with start(mlts_serve(port), "batch", {"MODEL_NAME": name, "LOG_LEVEL": "WARNING"}) as server:
        wait_ready(server, f"http://127.0.0.1:{port}/ready")
        series = synthetic(10_100, seed=9)
        with httpx.Client(timeout=120) as http:
            for n, form in ((n, form) for n in (1, 100, 10_000) for form in ("JSON", ".npy")):
                windows = np.lib.stride_tricks.sliding_window_view(series, 24)[:n]
                body, headers = _body(windows, form)
                # At least 20 requests per row: three made the 10 000-window rows swing tenfold between runs.
                repeats = max(20, min(200, 200_000 // (n * 10)))
                http.post(url, content=body, headers=headers)
                started = time.perf_counter()
                for _ in range(repeats):
                    assert http.post(url, content=body, headers=headers).status_code == 200
                end_to_end = n * repeats / (time.perf_counter() - started)
                x = np.ascontiguousarray(windows)
                started = time.perf_counter()
                for _ in range(repeats * 5):
                    model.predict(x)
                ceiling = n * repeats * 5 / (time.perf_counter() - started)
                rows.append(
                    [
                        f"{n:,}",
                        form,
                        f"{len(body) / 1e6:.2f} MB",
                        f"{end_to_end:,.0f}",
                        f"{ceiling:,.0f}",
                        f"{end_to_end / ceiling:.1%}",
                    ]
                )
    measured = float(rows[-1][3].replace(",", ""))
    report.target("/predict/batch, 10 000 windows (.npy)", ">= 300 000 windows/s", rows[-1][3], measured >= 300_000)
    report.table(
        "batch",
        "2. Batch prediction (/predict/batch, window 24, horizon 1)",
        [
            "windows per request",
            "format",
            "body",
            "windows/s end to end",
            "numpy predict in-process (ceiling)",
            "share of ceiling",
        ],
        rows,
        "End to end includes the HTTP round trip, parsing and encoding (JSON, or .npy in and out with "
        "Content-Type: application/x-npy). Target: >= 300 000 windows/s at 10 000 windows.",
    )


def _body(windows: np.ndarray, form: str) -> tuple[bytes, dict[str, str]]:
    if form == "JSON":
        return json.dumps({"windows": windows.tolist()}).encode(), {"content-type": "application/json"}
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(windows))
    return buffer.getvalue(), {"content-type": "application/x-npy"}


if __name__ == "__main__":
    run_alone(run)
