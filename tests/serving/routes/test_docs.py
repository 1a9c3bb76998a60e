"""`/docs` and `/redoc` render with no network: their assets come from the API itself."""

import re

from tests import browser


def test_docs_pages_load_their_assets_from_the_api_and_nothing_else(mongo_db, make_client) -> None:
    api = make_client()
    for page in ("/docs", "/redoc"):
        html = api.get(page).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources and all(s.startswith("/docs-assets/") for s in sources), sources
        assert "googleapis" not in html and "cdn" not in html.lower()
        for source in sources:
            asset = api.get(source)
            assert asset.status_code == 200 and len(asset.content) > 1000, source
    assert "/docs" not in api.get("/openapi.json").json()["paths"]


def test_docs_list_the_operations_in_chromium_with_the_network_cut_off(start_api, tmp_path) -> None:
    base, _ = start_api()
    dom = browser.dom(f"{base}/docs", tmp_path / "profile")
    for operation in ("/predict", "/predict/batch", "/train", "/health", "/monitoring"):
        assert f'data-path="{operation}"' in dom, operation
    redoc = browser.dom(f"{base}/redoc", tmp_path / "profile-redoc")
    assert "Forecast the next values of a series" in redoc
