"""A small HTTP/1.1 load generator: asyncio streams, keep-alive connections, one pre-encoded
request. It costs far less per request than an HTTP client library, so on a small machine the
server, not the generator, is what gets measured."""

import asyncio
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class LoadResult:
    connections: int
    requests: int
    seconds: float
    latencies_ms: np.ndarray
    errors: int
    statuses: dict[int, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else float("nan")


def request_bytes(host: str, port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(
    host: str, port: int, request: bytes, count: int, latencies: list[float], statuses: dict[int, int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                    break
            if length:
                await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000.0)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _run(host: str, port: int, request: bytes, connections: int, total: int) -> LoadResult:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    share = [total // connections + (1 if i < total % connections else 0) for i in range(connections)]
    started = time.perf_counter()
    await asyncio.gather(*(_connection(host, port, request, n, latencies, statuses) for n in share if n))
    seconds = time.perf_counter() - started
    errors = sum(v for k, v in statuses.items() if k >= 300)
    return LoadResult(connections, total, seconds, np.array(latencies), errors, statuses)


def run_load(host: str, port: int, request: bytes, connections: int, total: int, warmup: int = 200) -> LoadResult:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_run(host, port, request, min(connections, warmup), warmup))
    return asyncio.run(_run(host, port, request, connections, total))
