"""The ceiling of the online benchmark: a bare Starlette app that parses the same body and
returns a constant JSON, under the same uvicorn settings as `mlts serve`."""

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_ANSWER = orjson.dumps({"prediction": 1.0})


async def predict(request: Request) -> Response:
    orjson.loads(await request.body())
    return Response(_ANSWER, media_type="application/json")


app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
