"""The API's entry point: what `mlts serve` (uvicorn, in every worker process) calls. It answers
at once and builds the FastAPI app in a thread (`serving.starting`): importing it takes most of
a start."""

from serving.starting import ASGIApp, Starting


def _build() -> ASGIApp:
    from core.bootstrap import bootstrap
    from serving.app import create_app

    return create_app(bootstrap(serving=True))


def app() -> Starting:
    return Starting(_build)
