"""The API's entry point: what `mlts serve` (uvicorn, in every worker process) calls."""

from fastapi import FastAPI

from core.bootstrap import bootstrap
from serving.app import create_app


def app() -> FastAPI:
    return create_app(bootstrap(serving=True))
