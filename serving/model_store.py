"""The models the API serves, kept in memory and swapped when the registry's alias moves.

Requests read `ModelStore.models`, a dict replaced as a whole on every change, so a request holds
the model it started with while a refresh swaps in another: no lock, no registry or database call
on the hot path. Refreshing (a background task) is the only thing that talks to MLflow, read-only.
"""

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from core import registry, registry_snapshot
from core.errors import NotFound, Unavailable
from core.settings import Settings
from ml.forecaster import PerceptronForecaster
from serving import observability
from serving.model_cache import ModelCache
from serving.served_model import ServedModel, figures, read_run

log = logging.getLogger(__name__)

PINNED_KEPT = 8  # versions pinned by requests kept loaded besides the champions and challengers
LOADERS = 8  # versions loaded at once


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
        self._pinned: OrderedDict[tuple[str, str], tuple[float, ServedModel]] = OrderedDict()
        self.cache = ModelCache(settings)
        self.webhook = "off"  # what registering the MLflow webhook did (serving/webhooks.py)
        self._woken: asyncio.Event | None = None

    def warm_start(self) -> int:
        """Serve before MLflow's client is even imported: what the aliases point at, read from
        the store itself (`registry_snapshot`), or else what they pointed at when this API (or
        another on the same MLTS_HOME) last looked; each version from the cache or from the model
        JSON its promotion recorded. Returns how many; the first refresh does the rest."""
        aliases = [(self.settings.model_alias, "models")]
        if self.settings.shadow_challenger:
            aliases.append((self.settings.challenger_alias, "challengers"))
        found = registry_snapshot.aliased(self.settings.tracking_uri, tuple(a for a, _ in aliases))
        found = found if any(found.values()) else self.cache.last_served()
        for alias, attribute in aliases:
            served = (self._quick(entry, alias) for entry in found.get(alias, []))
            setattr(self, attribute, {s.name: s for s in served if s is not None})
        names = list(self.models)
        self.default_name = self.settings.model_name or (names[0] if names else None)
        observability.MODELS_LOADED.set(len(self.models))
        return len(self.models)

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

    async def pinned(self, name: str | None, version: str) -> ServedModel:
        """The version a request names (a number, or an alias): the served champion or challenger
        when it is one of them, else loaded on demand, off the event loop, and kept among the last
        PINNED_KEPT pinned (an alias's version is looked up again after MODEL_REFRESH_SECONDS)."""
        model_name = name or self.default_name
        if model_name is None:
            raise Unavailable("no model is loaded yet: name the model whose version you want")
        for served in (self.models.get(model_name), self.challengers.get(model_name)):
            if served is not None and version in (served.version, served.alias):
                return served
        key = (model_name, version)
        kept = self._pinned.get(key)
        if kept is not None and (version.isdigit() or time.monotonic() - kept[0] < self.settings.model_refresh_seconds):
            self._pinned.move_to_end(key)
            return kept[1]
        served = await asyncio.to_thread(self._load_pinned, model_name, version)
        self._pinned[key] = (time.monotonic(), served)
        while len(self._pinned) > PINNED_KEPT:
            self._pinned.popitem(last=False)
        return served

    def _load_pinned(self, name: str, version: str) -> ServedModel:
        from mlflow.exceptions import MlflowException

        try:
            client = registry.client(self.settings)
            if version.isdigit():
                found = client.get_model_version(name, version)
            else:
                found = registry.version_by_alias(client, name, version)
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                raise Unavailable(
                    f"the registry cannot say which is version {version!r} of {name}: {exc.message}"
                ) from None
            found = None
        except Exception as exc:  # noqa: BLE001 - registry unreachable
            raise Unavailable(f"the registry cannot be reached to load version {version!r} of {name}: {exc}") from None
        if found is None:
            raise NotFound(
                f"model {name!r} has no version or alias {version!r}: send a registered version number "
                "(`mlts models` lists them) or an alias such as champion or challenger"
            )
        entry = registry.Promoted(name, str(found.version), found.run_id, promoted_at="")
        served = self._load(client, entry, None if version.isdigit() else version)
        if served is None:
            raise Unavailable(f"version {found.version} of {name} could not be loaded: {self.last_error}")
        return served

    async def follow(self) -> None:
        """Refresh every MODEL_REFRESH_SECONDS, or at once when `wake` is called (an alias moved),
        forever (the app's lifespan cancels it)."""
        self._woken = woken = asyncio.Event()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), self.settings.model_refresh_seconds)
            woken.clear()
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # noqa: BLE001
                log.exception("model refresh failed")

    def wake(self) -> bool:
        """Refresh now rather than at the next period; False before `follow` runs."""
        if self._woken is None:
            return False
        self._woken.set()
        return True

    def start(self) -> bool:
        """What the API does first, off its event loop: serve what it can at once, then refresh."""
        self.warm_start()
        return self.refresh()

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
            self.cache.remember(found)
            promoted = found[self.settings.model_alias]
            updated = self._sync(client, promoted, self.models, self.settings.model_alias)
            names = [p.name for p in promoted if p.name in updated]
            wanted = self.settings.model_name
            self.default_name = wanted if wanted else (names[0] if names else None)
            self.models = updated
            if self.settings.shadow_challenger:
                alias = self.settings.challenger_alias
                self.challengers = self._sync(client, found[alias], self.challengers, alias)
            self.models = self._described(client, self.models)
            self.challengers = self._described(client, self.challengers)
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
        wanted: list[registry.Promoted] = []
        for entry in entries:
            loaded = current.get(entry.name)
            if loaded is not None and loaded.version == entry.version:
                updated[entry.name] = loaded
            elif (entry.name, entry.version) in self._failed:
                if loaded is not None:
                    updated[entry.name] = loaded
            else:
                wanted.append(entry)
        for entry, served in zip(wanted, self._load_all(client, wanted, alias), strict=True):
            loaded = current.get(entry.name)
            if served is not None:
                updated[entry.name] = served
            elif loaded is not None:
                updated[entry.name] = loaded
        return {entry.name: updated[entry.name] for entry in entries if entry.name in updated}

    def _load_all(self, client: Any, entries: list[registry.Promoted], alias: str) -> list[ServedModel | None]:
        """Versions loaded side by side: each is a few registry and artifact reads that mostly
        wait (on the network, or on SQLite's file), so a fleet's first start is not their sum."""
        if len(entries) < 2:
            return [self._load(client, entry, alias) for entry in entries]
        with ThreadPoolExecutor(min(LOADERS, len(entries)), thread_name_prefix="mlts-load") as pool:
            return list(pool.map(lambda entry: self._load(client, entry, alias), entries))

    def _load(self, client: Any, entry: registry.Promoted, alias: str | None) -> ServedModel | None:
        """From the cache; else from the model JSON the alias summary points at (one read: its
        run's params and metrics follow, see `_described`); else through the registry."""
        cached = self._cached(entry, alias)
        if cached is not None:
            return cached
        try:
            if entry.model_uri:
                model = registry.load_model_json(client, entry.model_uri)
                return replace(self._served(entry, alias, model, {}), described=False)
            model = registry.load_version(client, client.get_model_version(entry.name, entry.version))
            run = read_run(client, entry.run_id)
        except Exception as exc:  # noqa: BLE001 - a broken version never replaces a good one
            observability.MODEL_LOAD_FAILURES.labels(entry.name).inc()
            self._failed.add((entry.name, entry.version))
            self.last_error = f"{entry.name} version {entry.version} failed to load: {str(exc)[:300]}"
            log.error("model refresh: %s; keeping the model already served", self.last_error)
            return None
        self.cache.put(entry, model, run)
        return self._served(entry, alias, model, run)

    def _described(self, client: Any, served: dict[str, ServedModel]) -> dict[str, ServedModel]:
        """The models with their run's params and metrics (for /model/info), read once the models
        serve, and cached with them: a first start with a fleet answers before it has read every run."""
        if all(model.described for model in served.values()):
            return served
        described = dict(served)
        for name, model in served.items():
            if not model.described:
                try:
                    run = read_run(client, model.run_id)
                except Exception as exc:  # noqa: BLE001 - served without its figures; tried again next refresh
                    log.warning("model refresh: %s version %s: run not readable (%s)", name, model.version, exc)
                    continue
                self.cache.put(
                    registry.Promoted(name, model.version, model.run_id, model.promoted_at), model.model, run
                )
                described[name] = replace(model, **figures(self.settings, run, model.run_id), described=True)
        return described

    def _quick(self, entry: registry.Promoted, alias: str) -> ServedModel | None:
        """From the cache, or read from a local model JSON; None when that needs the registry."""
        served = self._cached(entry, alias)
        if served is None and (entry.model_uri or "").startswith("file://"):
            with contextlib.suppress(Exception):  # the refresh will try it the full way
                model = registry.load_model_json(None, entry.model_uri)  # type: ignore[arg-type]
                served = replace(self._served(entry, alias, model, {}), described=False)
        return served

    def _cached(self, entry: registry.Promoted, alias: str | None) -> ServedModel | None:
        found = self.cache.get(entry)
        return None if found is None else self._served(entry, alias, *found)

    def _served(
        self, entry: registry.Promoted, alias: str | None, model: PerceptronForecaster, run: dict[str, Any]
    ) -> ServedModel:
        observability.MODEL_RELOADS.labels(entry.name).inc()
        log.info("serving %s version %s (%s)", entry.name, entry.version, alias or "pinned by a request")
        return ServedModel(
            name=entry.name,
            version=entry.version,
            alias=alias,
            run_id=entry.run_id,
            model=model,
            promoted_at=entry.promoted_at,
            loaded_at=time.time(),
            counter=observability.PREDICTIONS.labels(entry.name, entry.version),
            **figures(self.settings, run, entry.run_id),
        )
