"""The registry at a glance, without MLflow: which version each alias points at, and where its
model JSON is, read from the summary mlts writes on every registered model it promotes
(`registry.record_alias`). Importing MLflow's client takes a second or two on a small machine;
this lets the API serve its fleet before that import is done.

Two sources, both read-only: a local SQLite store's tables (`registered_model_aliases`,
`registered_model_tags`, MLflow's schema since 2.x), and an MLflow server's REST search. A
version whose summary is missing, stale or not on a local file is left out: the API's first full
refresh, through MLflow, serves it a moment later. Any failure returns {}.
"""

import logging
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from core.registry import Promoted, Tag, alias_summary

log = logging.getLogger(__name__)

SEARCH = "/api/2.0/mlflow/registered-models/search"
TIMEOUT_SECONDS = 3.0


def aliased(tracking_uri: str, aliases: tuple[str, ...]) -> dict[str, list[Promoted]]:
    """For each alias, the registered models whose summary names the version behind it and a
    local model JSON; most recently promoted first. {} when the store cannot be read this way."""
    try:
        if tracking_uri.startswith("sqlite:///"):
            models = _sqlite(Path(unquote(tracking_uri.removeprefix("sqlite:///"))))
        elif tracking_uri.startswith(("http://", "https://")):
            models = _rest(tracking_uri.rstrip("/"))
        else:
            return {}
    except Exception as exc:  # noqa: BLE001 - only a shortcut: MLflow's client is asked next
        log.debug("registry snapshot unavailable (%s: %s)", type(exc).__name__, exc)
        return {}
    found: dict[str, list[Promoted]] = {alias: [] for alias in aliases}
    for name, (versions, tags) in models.items():
        for alias in aliases:
            summary = alias_summary(tags, alias)
            uri = summary.get("model_uri", "")
            if alias in versions and summary.get("version") == versions[alias] and uri.startswith("file://"):
                found[alias].append(
                    Promoted(name, versions[alias], summary.get("run_id"), summary.get("promoted_at", ""), uri)
                )
    return {alias: sorted(entries, key=lambda p: p.promoted_at, reverse=True) for alias, entries in found.items()}


def _sqlite(path: Path) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    if not path.exists():
        return {}
    models: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    connecting = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=TIMEOUT_SECONDS)
    with closing(connecting) as connection:
        for name, alias, version in connection.execute("SELECT name, alias, version FROM registered_model_aliases"):
            models.setdefault(name, ({}, {}))[0][alias] = str(version)
        query = "SELECT name, key, value FROM registered_model_tags WHERE key LIKE ?"
        for name, key, value in connection.execute(query, (Tag.ALIAS_PREFIX + "%",)):
            if name in models:
                models[name][1][key] = value
    return models


def _rest(base: str) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    import httpx

    headers, auth = {}, None
    if os.environ.get("MLFLOW_TRACKING_TOKEN"):
        headers["Authorization"] = f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"
    elif os.environ.get("MLFLOW_TRACKING_USERNAME"):
        auth = (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
    models: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    token = None
    with httpx.Client(base_url=base, headers=headers, auth=auth, timeout=TIMEOUT_SECONDS) as client:
        while True:
            params: dict[str, Any] = {"max_results": 1000, **({"page_token": token} if token else {})}
            page = client.get(SEARCH, params=params).raise_for_status().json()
            for model in page.get("registered_models", []):
                versions = {a["alias"]: str(a["version"]) for a in model.get("aliases", [])}
                tags = {t["key"]: t.get("value", "") for t in model.get("tags", [])}
                models[model["name"]] = (versions, tags)
            token = page.get("next_page_token")
            if not token:
                return models
