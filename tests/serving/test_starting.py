"""The API while its code loads (serving/starting.py): /health and /ready answer at once, other
requests wait for the app, its lifespan runs inside, and a build that fails stops the server."""

import asyncio
import json
import threading
from typing import Any

from fastapi import FastAPI

from serving import starting
from serving.starting import Starting


async def _call(app: Any, path: str) -> tuple[int, Any]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "state": {},
    }
    await app(scope, receive, send)
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


class _Lifespan:
    """The server's side of the lifespan protocol, as uvicorn drives it."""

    def __init__(self, app: Any) -> None:
        self.to_app: asyncio.Queue = asyncio.Queue()
        self.from_app: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.create_task(app({"type": "lifespan", "state": {}}, self.to_app.get, self.from_app.put))

    async def send(self, kind: str) -> str:
        await self.to_app.put({"type": f"lifespan.{kind}"})
        return (await asyncio.wait_for(self.from_app.get(), 5))["type"]


def _app(events: list[str]) -> FastAPI:
    async def lifespan(app: FastAPI):
        events.append("startup")
        yield
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "healthy"}

    @app.get("/work")
    async def work() -> dict:
        return {"done": True}

    return app


def test_it_answers_while_the_app_builds_then_hands_every_request_to_the_app() -> None:
    release = threading.Event()
    events: list[str] = []

    def build() -> FastAPI:
        release.wait(10)
        return _app(events)

    async def scenario() -> None:
        app = Starting(build)
        lifespan = _Lifespan(app)
        assert await lifespan.send("startup") == "lifespan.startup.complete"  # before the build ends
        status, health = await _call(app, "/health")
        assert status == 200 and health["status"] == "starting" and health["model_loaded"] is False
        assert (await _call(app, "/ready"))[0] == 503
        early = asyncio.create_task(_call(app, "/work"))
        await asyncio.sleep(0.2)
        assert not early.done() and events == []
        release.set()
        assert await asyncio.wait_for(early, 5) == (200, {"done": True})
        assert events == ["startup"]
        assert await _call(app, "/health") == (200, {"status": "healthy"})
        assert await lifespan.send("shutdown") == "lifespan.shutdown.complete"
        assert events == ["startup", "shutdown"]

    asyncio.run(scenario())


def test_a_build_that_fails_stops_the_server_and_says_why(monkeypatch) -> None:
    monkeypatch.setattr(starting, "failure", None)
    stopped: list[bool] = []

    def build() -> FastAPI:
        raise ImportError("no module named 'fastapi.broken'")

    async def scenario() -> None:
        app = Starting(build, on_failure=lambda: stopped.append(True))
        lifespan = _Lifespan(app)
        assert await lifespan.send("startup") == "lifespan.startup.complete"
        status, body = await asyncio.wait_for(_call(app, "/work"), 5)
        assert status == 503 and "could not start" in body["detail"]
        assert stopped == [True] and isinstance(starting.failure, ImportError)
        assert await lifespan.send("shutdown") == "lifespan.shutdown.complete"

    asyncio.run(scenario())


def test_workers_whose_build_fails_stop_their_supervisor_instead_of_restarting(tmp_path) -> None:
    """uvicorn restarts a worker that exits after it started serving; a worker of this app exits
    with uvicorn's start-failure status, so the supervisor stops and the reason is left behind."""
    import sys
    from pathlib import Path

    from core.processes import Child, free_port

    report = tmp_path / "failed"
    command = [sys.executable, "-m", "uvicorn", "tests.serving.broken_app:app", "--factory", "--interface", "asgi3"]
    command += ["--workers", "2", "--port", str(free_port()), "--host", "127.0.0.1"]
    root = Path(__file__).resolve().parents[2]
    with Child.spawn(command, "broken api", tmp_path / "api.log", {starting.FAILURE_FILE: str(report)}, root) as child:
        child.process.wait(timeout=60)  # the supervisor ended by itself
    log = (tmp_path / "api.log").read_text()
    assert report.read_text() == "RuntimeError('broken on purpose')"
    assert "failed to start, stopping the parent process" in log
    assert 1 <= log.count("the API could not start") <= 2, log  # each worker once, none restarted


def test_mlts_serve_reports_a_workers_failure_and_exits_3(tmp_path) -> None:
    import pytest
    import typer

    from mlts.serving import _exit_if_failed

    report = tmp_path / "failed"
    _exit_if_failed(report)  # nothing failed: returns
    report.write_text("RuntimeError('broken on purpose')")
    with pytest.raises(typer.Exit) as exited:
        _exit_if_failed(report)
    assert exited.value.exit_code == 3 and not report.exists()
