"""The lean ASGI path of the hot routes: `POST /predict` and `POST /predict/batch` go straight
to their endpoints, past FastAPI's router (matching a request against every route costs more than
the forecast). Everything else about them is unchanged: they are still documented by FastAPI,
timed and counted under their route by the observability middleware around this one, and their
failures answered by the same error handlers as anywhere in the app (`serving/errors.py`).
"""

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from core.errors import MltsError
from serving.errors import error_response, unexpected
from serving.observability import BodyTooLarge

Endpoint = Callable[[Request], Awaitable[Response]]


class FastPath:
    def __init__(self, app: Any, routes: dict[str, tuple[Any, Endpoint]]):
        """`routes`: path -> (the FastAPI route, for the metrics label; its endpoint), POST only."""
        self.app = app
        self.routes = routes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        hit = self.routes.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if hit is None or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        scope["route"] = hit[0]
        try:
            response = await hit[1](Request(scope, receive))
        except MltsError as exc:
            response = error_response(exc.http_status, exc.message)
        except BodyTooLarge:
            raise  # the observability middleware's to answer
        except ClientDisconnect:
            return  # nobody is left to answer
        except Exception as exc:  # noqa: BLE001 - the same answer as the app's handler for the unexpected
            response = unexpected(exc, "POST", scope["path"])
        await response(scope, receive, send)
