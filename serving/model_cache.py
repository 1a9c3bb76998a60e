"""Served models kept on disk under MLTS_HOME, so a restarted API answers at once.

A registered version never changes, so its model JSON and its run's figures are cached by name,
version and run id (one folder per tracking store; a store made anew has other run ids), and a
restart or a second worker downloads nothing it already has. `served.json` remembers which
versions the aliases pointed at when last seen: at start the API serves those before the
registry has answered (MLflow is not even imported yet), and its first refresh, moments later,
swaps in whatever the aliases point at now."""

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

from core.registry import Promoted
from core.settings import Settings
from ml import model_format
from ml.forecaster import PerceptronForecaster

log = logging.getLogger(__name__)


class ModelCache:
    def __init__(self, settings: Settings):
        store = hashlib.sha256(settings.tracking_uri.encode()).hexdigest()[:16]
        self.root = settings.home / "serving" / store
        self._remembered: str | None = None

    def get(self, entry: Promoted) -> tuple[PerceptronForecaster, dict[str, Any]] | None:
        """The version's model and its run's figures, or None when not cached (or unreadable)."""
        stem = self._stem(entry)
        try:
            model = model_format.load(stem.with_suffix(".json"))
            run = json.loads(stem.with_suffix(".run.json").read_text())
        except Exception:  # noqa: BLE001 - a cache that cannot be read is a cache miss
            return None
        return model, run

    def put(self, entry: Promoted, model: PerceptronForecaster, run: dict[str, Any]) -> None:
        stem = self._stem(entry)
        self._write(stem.with_suffix(".json"), model_format.dumps(model))
        self._write(stem.with_suffix(".run.json"), json.dumps(run))

    def remember(self, served: dict[str, list[Promoted]]) -> None:
        """What each alias points at now, for the next start (written when it changes)."""
        text = json.dumps({k: [asdict(p) for p in v] for k, v in served.items()})
        if text != self._remembered and self._write(self.root / "served.json", text):
            self._remembered = text

    def last_served(self) -> dict[str, list[Promoted]]:
        try:
            found = json.loads((self.root / "served.json").read_text())
            return {alias: [Promoted(**entry) for entry in entries] for alias, entries in found.items()}
        except Exception:  # noqa: BLE001 - nothing remembered: the registry decides, as on a first start
            return {}

    def _stem(self, entry: Promoted) -> Path:
        return self.root / "models" / quote(entry.name, safe="") / f"v{entry.version}-{entry.run_id or 'no-run'}"

    def _write(self, path: Path, text: str) -> bool:
        """Atomically (several workers share the folder); a full disk only costs the cache."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
                handle.write(text)
            os.replace(handle.name, path)
        except OSError as exc:
            log.warning("model cache: cannot write %s (%s)", path, exc)
            return False
        return True
