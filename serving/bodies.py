"""Bodies in and out: the raw request body, typed decoding with a message that names the field,
and JSON answers encoded by msgspec."""

from typing import Any

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from core.errors import InvalidInput

JSON = "application/json"


def _plain(value: Any) -> Any:
    """What msgspec does not know: subclasses of int and float (BSON's Int64), numpy scalars, ids."""
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if hasattr(value, "item"):
        return value.item()
    return str(value)


_encode = msgspec.json.Encoder(enc_hook=_plain).encode


class JsonBytes(Response):
    """A 200 JSON answer already encoded: its two headers made directly, no header mapping to
    walk (the hot routes answer thousands a second)."""

    media_type = JSON

    def __init__(self, body: bytes):
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = [(b"content-length", str(len(body)).encode()), (b"content-type", _JSON_HEADER)]


_JSON_HEADER = JSON.encode()


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(_encode(payload), status_code=status, media_type=JSON)


async def read_body(request: Request) -> bytes:
    """The whole body, read from the ASGI messages directly: Starlette's `body()` goes through an
    async generator, which the event loop registers and tracks, a cost per request on the hot path."""
    body = getattr(request, "_body", None)
    if body is None:
        chunks: list[bytes] = []
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = request._body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        request._stream_consumed = True
    if not body:
        raise InvalidInput("the request body is empty: send a JSON object (see /docs for examples)")
    return body


def decode(decoder: msgspec.json.Decoder, body: bytes) -> Any:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise InvalidInput(_explain(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise InvalidInput(
            f"the body is not valid JSON ({exc}); NaN and Infinity are not JSON numbers, send finite values"
        ) from None


def _explain(message: str) -> str:
    """msgspec's messages name the JSON path; say what to send where it helps."""
    if "RFC3339" in message:
        return message.replace(
            "Invalid RFC3339 encoded datetime",
            "timestamp must be an ISO-8601 date-time such as 2024-01-01T00:00:00Z, or epoch milliseconds",
        )
    if "Number out of range" in message:
        return message.replace("Number out of range", "number out of range (values must be finite)")
    return message
