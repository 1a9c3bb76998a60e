"""The API while its code loads: uvicorn listens at once, and this answers `/health` ("starting",
200: the process is alive) and `/ready` (503) while the FastAPI app is imported and built in a
thread. Those imports (FastAPI, numpy, pymongo, the routes' models) are most of a start, and a
liveness probe should not wait for them. Any other request waits for the app, as it would have
waited in the listen queue, so no client sees an error for an early call.

Then every request goes to the app, and its lifespan runs inside this one's. Stdlib only: what
this module imports is on the path to the first answer.
"""

import asyncio
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(__name__)
STARTING = "starting"
_ANSWERS: dict[str, tuple[int, dict[str, Any]]] = {
    "/health": (200, {"status": STARTING, "database": "unknown", "model_loaded": False, "models": []}),
    "/ready": (503, {"ready": False, "detail": "the API is starting"}),
}
_FAILED = (503, {"detail": "the API could not start; its log says why"})

failure: BaseException | None = None  # why the app could not be built, for `mlts serve`'s exit status


class Starting:
    """An ASGI app that becomes `build()`'s app once that is built and started."""

    def __init__(self, build: Callable[[], ASGIApp], on_failure: Callable[[], None] | None = None) -> None:
        self._build = build
        self._on_failure = on_failure or _stop_server
        self.app: ASGIApp | None = None
        self._built = asyncio.Event()
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._lifespan_task: asyncio.Task[None] | None = None

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The app's own coroutine once it runs: no frame of this one on the hot path (uvicorn
        is told the interface, since this method is not `async`)."""
        app = self.app
        return app(scope, receive, send) if app is not None else self._early(scope, receive, send)

    async def _early(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif scope["type"] == "http" and scope["path"] in _ANSWERS:
            await _answer(*_ANSWERS[scope["path"]], send)
        else:
            await self._built.wait()
            if self.app is not None:
                await self.app(scope, receive, send)
            elif scope["type"] == "http":
                await _answer(*_FAILED, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        loading = asyncio.create_task(self._load(scope.get("state", {})))
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        try:
            await loading  # a thread cannot be cancelled; the build is bounded
        except BaseException:  # noqa: BLE001 - already logged, and the server is stopping anyway
            pass
        if self.app is not None:
            await self._to_app.put({"type": "lifespan.shutdown"})
            await self._reply("lifespan.shutdown.complete")
            await self._lifespan_task
        await send({"type": "lifespan.shutdown.complete"})

    async def _load(self, state: dict[str, Any]) -> None:
        global failure
        try:
            app = await asyncio.to_thread(self._build)
            scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
            self._lifespan_task = asyncio.create_task(app(scope, self._to_app.get, self._from_app.put))
            await self._to_app.put({"type": "lifespan.startup"})
            await self._reply("lifespan.startup.complete")
            self.app = app
            self._built.set()
        except BaseException as exc:
            failure = exc
            self._built.set()
            log.exception("the API could not start")
            self._on_failure()
            raise

    async def _reply(self, wanted: str) -> None:
        """The app's answer to a lifespan message; its failure or crash raised."""
        assert self._lifespan_task is not None
        reply = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait([reply, self._lifespan_task], return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():
            reply.cancel()
            self._lifespan_task.result()  # raises what the lifespan raised
            raise RuntimeError(f"the app's lifespan ended without {wanted}")
        message = reply.result()
        if message["type"] != wanted:
            raise RuntimeError(f"the app's lifespan answered {message['type']}: {message.get('message', '')}")


FAILURE_FILE = "MLTS_START_FAILURE_FILE"  # where a worker of `mlts serve --workers N` says why it failed
_STARTUP_FAILURE = 3  # uvicorn's exit status for a worker that cannot start: its supervisor stops


def _stop_server() -> None:
    """Stop serving: uvicorn's graceful stop, after which `mlts serve` exits 3. A worker of a
    multi-process server exits with uvicorn's start-failure status instead, so the supervisor
    stops too rather than restarting a build that fails every time, and leaves the reason
    where `mlts serve` (the supervisor's process) reads it."""
    import multiprocessing

    if multiprocessing.parent_process() is None:
        os.kill(os.getpid(), signal.SIGTERM)
        return
    path = os.environ.get(FAILURE_FILE)
    if path:
        with open(path, "w", encoding="utf-8") as file:
            file.write(repr(failure))
    logging.shutdown()
    os._exit(_STARTUP_FAILURE)


async def _answer(status: int, body: dict[str, Any], send: Send) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
