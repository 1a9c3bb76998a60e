"""An API whose build always fails, for the multi-worker start test (uvicorn imports it by name)."""

from serving.starting import ASGIApp, Starting


def _build() -> ASGIApp:
    raise RuntimeError("broken on purpose")


def app() -> Starting:
    return Starting(_build)
