"""`/docs` and `/redoc` served with their scripts and styles from this API itself (the assets of
the fastapi-offline package), so the documentation renders on a plant network with no internet;
FastAPI's own pages load them from a CDN and stay blank there."""

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"

router = APIRouter(include_in_schema=False)


def _where(request: Request) -> tuple[str, str, str]:
    """The assets' URL, the OpenAPI document's URL and the app's title, behind any root path."""
    root, app = request.scope.get("root_path", ""), request.app
    return f"{root}{ASSETS_URL}", f"{root}{app.openapi_url}", app.title


@router.get("/docs")
async def swagger(request: Request) -> HTMLResponse:
    assets, openapi_url, title = _where(request)
    return get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title} - Swagger UI",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon.png",
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    assets, openapi_url, title = _where(request)
    return get_redoc_html(
        openapi_url=openapi_url,
        title=f"{title} - ReDoc",
        redoc_js_url=f"{assets}/redoc.standalone.js",
        redoc_favicon_url=f"{assets}/favicon.png",
        with_google_fonts=False,
    )


def install(app: FastAPI) -> None:
    """Mount the assets and add the two pages (the app is built with docs_url=None, redoc_url=None)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    app.include_router(router)
