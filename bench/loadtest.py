"""Load test: many concurrent clients on /predict while the champion alias moves twice.

Reports requests/s, p50/p99 latency, the non-2xx count (which must be 0) and which model versions
answered. Usage (against a running API whose registry has at least two versions of MODEL):
    python -m bench.loadtest --url http://127.0.0.1:8000 --model NAME --versions 1 2 1 [--clients 32] [--requests 20000]
"""

import argparse
import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import numpy as np


@dataclass
class LoadReport:
    requests: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    versions: Counter = field(default_factory=Counter)
    last_version: str | None = None

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def summary(self) -> str:
        p50, p99 = np.percentile(self.latencies_ms, [50, 99]) if self.latencies_ms else (float("nan"),) * 2
        return (
            f"{self.requests} requests in {self.seconds:.1f} s: {self.requests / self.seconds:,.0f} requests/s, "
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, non-2xx {self.errors}, versions served {dict(self.versions)}"
        )


def body_for(window: int, points: int = 48) -> bytes:
    values = 20 + np.sin(np.arange(points) / 4)
    data = [{"timestamp": 1_704_067_200_000 + i * 3_600_000, "value": float(v)} for i, v in enumerate(values)]
    return json.dumps({"data": data, "window_size": window}).encode()


async def _client(url: str, body: bytes, count: int, report: LoadReport, more: Callable[[], bool]) -> None:
    """`count` requests, and more while `more()` says the run is not over."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        sent = 0
        while sent < count or more():
            sent += 1
            started = time.perf_counter()
            response = await http.post("/predict", content=body, headers={"content-type": "application/json"})
            report.latencies_ms.append((time.perf_counter() - started) * 1000)
            report.statuses[response.status_code] += 1
            if response.status_code == 200:
                report.last_version = response.json()["model"]["version"]
                report.versions[report.last_version] += 1


def run(url: str, body: bytes, clients: int, requests: int, during=None, tail: float = 1.0) -> LoadReport:
    """Drive the API with at least `requests` requests; `during(progress)` runs in a thread
    meanwhile (e.g. moving the alias), and the load goes on until `tail` seconds after it ends."""
    report = LoadReport(requests, 0.0)
    share = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
    mover = threading.Thread(target=during, args=(report,)) if during else None
    started = time.perf_counter()
    if mover:
        mover.start()
    ended: float | None = None

    def more() -> bool:
        nonlocal ended
        if mover is None or mover.is_alive():
            return mover is not None
        ended = ended or time.perf_counter()
        return time.perf_counter() - ended < tail

    async def main() -> None:
        await asyncio.gather(*(_client(url, body, n, report, more) for n in share))

    asyncio.run(main())
    report.seconds = time.perf_counter() - started
    report.requests = sum(report.statuses.values())
    if mover:
        mover.join()
    return report


def move_alias_during(model: str, versions: list[str], every: float, patience: float = 30.0):
    """A `during` callback: point the champion alias at each version in turn, `every` seconds of
    load before each move; after a move, wait until the API answers with that version (at most
    `patience` seconds), so a slow refresh under load shows as a missing version, not a race."""

    def move(report: LoadReport) -> None:
        from core import registry
        from core.settings import get_settings

        client = registry.client(get_settings())
        for version in versions:
            time.sleep(every)
            client.set_registered_model_alias(model, get_settings().model_alias, version)
            deadline = time.monotonic() + patience
            while report.last_version != version and time.monotonic() < deadline:
                time.sleep(0.05)

    return move


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--model", required=True)
    parser.add_argument("--versions", nargs="+", default=[], help="versions to move the alias to, in order")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=24)
    args = parser.parse_args()
    during = move_alias_during(args.model, args.versions, 2.0) if args.versions else None
    report = run(args.url, body_for(args.window), args.clients, args.requests, during)
    print(report.summary())
    raise SystemExit(1 if report.errors else 0)


if __name__ == "__main__":
    main()
