"""The models the API serves, kept in memory and swapped when the registry's alias moves.

Requests read `ModelStore.models`, a dict replaced as a whole on every change, so a request
holds the model it started with even while a refresh swaps in another: no lock on the hot path,
no registry or database call. Refreshing (a background task) is the only thing that talks to
MLflow, and it never writes there.
"""

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from core import registry
from core.errors import NotFound, Unavailable
from core.settings import Settings
from ml.forecaster import PerceptronForecaster
from serving import observability

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    name: str
    version: str
    alias: str
    run_id: str | None
    model: PerceptronForecaster
    promoted_at: str
    loaded_at: float
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    run_url: str | None = None
    counter: Any = None

    @property
    def series(self) -> dict[str, Any] | None:
        """The series it was trained on (collection, fields, filter), as the model JSON records it."""
        return (self.model.metadata or {}).get("series")

    @property
    def ref(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "alias": self.alias, "run_id": self.run_id}

    def info(self) -> dict[str, Any]:
        meta = self.model.metadata or {}
        return {
            **self.ref,
            "window_size": self.model.window_size,
            "series": meta.get("series"),
            "params": self.params,
            "metrics": self.metrics,
            "data_start": meta.get("data_start"),
            "data_end": meta.get("data_end"),
            "trained_at": meta.get("trained_at"),
            "promoted_at": self.promoted_at,
            "run_url": self.run_url,
            "interval_level": self.model.intervals.level if self.model.intervals else None,
        }


class ModelStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.models: dict[str, ServedModel] = {}
        self.challengers: dict[str, ServedModel] = {}  # shadows: forecast and logged, never answered
        self.default_name: str | None = None
        self.registry_reachable: bool | None = None
        self.last_error: str | None = None
        self.last_refresh: float | None = None
        self.last_refresh_seconds: float | None = None
        self._refresh_lock = threading.Lock()
        self._failed: set[tuple[str, str]] = set()  # versions that would not load: not retried

    def get(self, name: str | None) -> ServedModel | None:
        models = self.models
        return models.get(name or self.default_name or "")

    def pick(self, name: str | None) -> ServedModel:
        """The model a request names, or the default one; a 404 or 503 that lists what is served."""
        served = self.get(name)
        if served is not None:
            return served
        known = sorted(self.models)
        if not known:
            raise Unavailable("no model is loaded yet: train one (POST /train or `mlts train`) and wait for promotion")
        if name is None:
            raise Unavailable(
                f"MODEL_NAME={self.settings.model_name} is not promoted; served models: {', '.join(known)}"
            )
        raise NotFound(f"model {name!r} is not served; served models: {', '.join(known)}")

    async def follow(self) -> None:
        """Refresh every MODEL_REFRESH_SECONDS, forever (the app's lifespan cancels it)."""
        while True:
            await asyncio.sleep(self.settings.model_refresh_seconds)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # noqa: BLE001
                log.exception("model refresh failed")

    def refresh(self) -> bool:
        """Load what the alias points at now; keep the old model of any name that fails. Returns
        whether the registry answered."""
        with self._refresh_lock:
            started = time.perf_counter()
            try:
                client = registry.client(self.settings)
                aliases = (self.settings.model_alias, self.settings.challenger_alias)
                found = registry.aliased_models(client, aliases if self.settings.shadow_challenger else aliases[:1])
            except Exception as exc:  # noqa: BLE001 - registry down: keep serving what we have
                self.registry_reachable = False
                self.last_error = f"registry unreachable: {type(exc).__name__}: {str(exc)[:300]}"
                log.warning(
                    "model refresh: %s; serving the %d models already loaded", self.last_error, len(self.models)
                )
                return False
            promoted = found[self.settings.model_alias]
            updated = self._sync(client, promoted, self.models, self.settings.model_alias)
            self.models = updated
            if self.settings.shadow_challenger:
                alias = self.settings.challenger_alias
                self.challengers = self._sync(client, found[alias], self.challengers, alias)
            names = [p.name for p in promoted if p.name in updated]
            wanted = self.settings.model_name
            self.default_name = wanted if wanted else (names[0] if names else None)
            self.registry_reachable = True
            self.last_refresh = time.time()
            self.last_refresh_seconds = round(time.perf_counter() - started, 4)
            observability.MODELS_LOADED.set(len(updated))
            return True

    def _sync(
        self, client: Any, entries: list[registry.Promoted], current: dict[str, ServedModel], alias: str
    ) -> dict[str, ServedModel]:
        """The models behind `alias` now: the ones already loaded kept, the moved ones loaded; a
        version that fails to load leaves the old one in place."""
        updated: dict[str, ServedModel] = {}
        for entry in entries:
            loaded = current.get(entry.name)
            if loaded is not None and loaded.version == entry.version:
                updated[entry.name] = loaded
                continue
            if (entry.name, entry.version) in self._failed:
                if loaded is not None:
                    updated[entry.name] = loaded
                continue
            served = self._load(client, entry, alias)
            if served is not None:
                updated[entry.name] = served
            elif loaded is not None:
                updated[entry.name] = loaded
        return updated

    def _load(self, client: Any, entry: registry.Promoted, alias: str) -> ServedModel | None:
        try:
            version = client.get_model_version(entry.name, entry.version)
            model = registry.load_version(client, version)
            params, metrics, run_url = {}, {}, None
            if entry.run_id:
                run = client.get_run(entry.run_id)
                params, metrics = dict(run.data.params), dict(run.data.metrics)
                run_url = registry.run_url(self.settings, run.info.experiment_id, entry.run_id)
        except Exception as exc:  # noqa: BLE001 - a broken version never replaces a good one
            observability.MODEL_LOAD_FAILURES.labels(entry.name).inc()
            self._failed.add((entry.name, entry.version))
            self.last_error = f"{entry.name} version {entry.version} failed to load: {str(exc)[:300]}"
            log.error("model refresh: %s; keeping the model already served", self.last_error)
            return None
        observability.MODEL_RELOADS.labels(entry.name).inc()
        log.info("serving %s version %s (%s)", entry.name, entry.version, alias)
        return ServedModel(
            name=entry.name,
            version=entry.version,
            alias=alias,
            run_id=entry.run_id,
            model=model,
            promoted_at=entry.promoted_at,
            loaded_at=time.time(),
            params=params,
            metrics=metrics,
            run_url=run_url,
            counter=observability.PREDICTIONS.labels(entry.name, entry.version),
        )
