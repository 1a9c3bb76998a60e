"""One error taxonomy for every front end: a failure is invalid input, something not found, a
conflict with work under way, or a dependency that is not answering. The API maps the kind to an
HTTP status and the CLI to an exit code, each in one table, so the two always agree on what a
failure means and neither needs to know which module raised it.
"""

from enum import StrEnum

from pydantic import ValidationError

from core.masking import mask_text


class ErrorKind(StrEnum):
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    UNAVAILABLE = "unavailable"


HTTP_STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAVAILABLE: 503,
}
# 75 is EX_TEMPFAIL: the same command succeeds once the other training ends.
EXIT_CODE: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 1,
    ErrorKind.NOT_FOUND: 1,
    ErrorKind.CONFLICT: 75,
    ErrorKind.UNAVAILABLE: 1,
}


class MltsError(Exception):
    """A failure whose message says what to fix; `kind` says which sort it is."""

    kind: ErrorKind = ErrorKind.INVALID

    def __init__(self, message: str, kind: ErrorKind | None = None):
        super().__init__(message)
        if kind is not None:
            self.kind = kind

    @property
    def message(self) -> str:
        return str(self)

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.kind]

    @property
    def exit_code(self) -> int:
        return EXIT_CODE[self.kind]


class InvalidInput(MltsError, ValueError):
    kind = ErrorKind.INVALID


class NotFound(MltsError, LookupError):
    kind = ErrorKind.NOT_FOUND


class Conflict(MltsError, RuntimeError):
    kind = ErrorKind.CONFLICT


class Unavailable(MltsError, ConnectionError):
    kind = ErrorKind.UNAVAILABLE


def validation_message(exc: Exception, limit: int = 5) -> str:
    """A pydantic ValidationError as `field: what is wrong; …`; any other error as its text."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for error in errors()[:limit]:
        if error.get("type") == "json_invalid":
            parts.append(f"the body is not valid JSON ({error.get('msg', '')})")
            continue
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "input"
        parts.append(f"{where}: {error.get('msg', '')}")
    return "; ".join(parts)


def mongo_unavailable(
    where: str, exc: BaseException, secrets: list[str | None] | None = None, timeout_ms: int | None = None
) -> Unavailable:
    """The one wording for a Mongo outage, in the API and the CLI alike, credentials masked."""
    detail = mask_text(str(exc).split(", Timeout:")[0], secrets or [])[:200]
    within = f" within {timeout_ms} ms" if timeout_ms else ""
    return Unavailable(
        f"cannot reach MongoDB at {where}: it is not answering{within} ({detail}); check that it runs, then try again"
    )


def classify(exc: BaseException, secrets: list[str | None] | None = None) -> MltsError:
    """Any failure a training or a request can end with, as an MltsError of the right kind.

    Errors of the model (ml/ knows nothing of this module) and of the libraries mlts calls are
    mapped here, once; anything unknown is a dependency that failed (unavailable)."""
    if isinstance(exc, MltsError):
        return exc
    from pymongo.errors import ConnectionFailure, PyMongoError  # here, so the CLI starts without pymongo

    text = mask_text(str(exc) or type(exc).__name__, secrets or [])
    if isinstance(exc, ValidationError):
        return InvalidInput(validation_message(exc))
    if isinstance(exc, ConnectionFailure):
        return Unavailable(f"MongoDB stopped answering, so the work did not finish: {text[:300]}")
    if isinstance(exc, PyMongoError):
        return Unavailable(f"MongoDB refused the operation: {text[:300]}")
    if isinstance(exc, ValueError):
        return InvalidInput(text)
    return Unavailable(f"{type(exc).__name__}: {text[:500]}")
