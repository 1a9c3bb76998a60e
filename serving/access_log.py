"""The access log, made cheap: uvicorn's line per request (`INFO:     127.0.0.1:5321 - "POST
/predict HTTP/1.1" 200 OK`), formatted with one `%` and written to stdout in batches a few times a
second, instead of a logging record formatted and flushed per request (a third of /predict's
throughput). Each batch is written in pieces of whole lines under PIPE_BUF, so the lines of
several workers sharing one pipe never cut into each other.
"""

import asyncio
import sys
from http import HTTPStatus
from typing import Any, TextIO

INTERVAL_SECONDS = 0.2
MOST_PENDING = 20_000  # lines held when the stream is slow; the oldest are dropped
_PIECE = 4000  # under PIPE_BUF (4096): one write(2) is atomic on a pipe
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


class AccessLog:
    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.pending: list[str] = []

    def add(self, scope: dict, status: int) -> None:
        client = scope.get("client")
        where = f"{client[0]}:{client[1]}" if client else "-"
        query = scope.get("query_string")
        path = scope.get("path", "") + ("?" + query.decode("latin-1") if query else "")
        method, version = scope.get("method", ""), scope.get("http_version", "1.1")
        line = 'INFO:     %s - "%s %s HTTP/%s" %d %s\n' % (
            where,
            method,
            path,
            version,
            status,
            _PHRASES.get(status, ""),
        )
        if len(self.pending) >= MOST_PENDING:
            del self.pending[: MOST_PENDING // 10]
        self.pending.append(line)

    async def run(self) -> None:
        """Write what is pending every INTERVAL_SECONDS until cancelled, then the rest."""
        try:
            while True:
                await asyncio.sleep(INTERVAL_SECONDS)
                self.flush()
        finally:
            self.flush()

    def flush(self) -> None:
        lines, self.pending = self.pending, []
        piece: list[str] = []
        size = 0
        for line in lines:
            if size + len(line) > _PIECE and piece:
                self._write("".join(piece))
                piece, size = [], 0
            piece.append(line)
            size += len(line)
        if piece:
            self._write("".join(piece))

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stdout never fails a request
            pass


def wanted(settings: Any) -> bool:
    """On with ACCESS_LOG (the default) at LOG_LEVEL INFO or DEBUG, as uvicorn's would be."""
    return bool(settings.access_log) and str(settings.log_level).upper() in ("DEBUG", "INFO")
