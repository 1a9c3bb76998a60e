"""The registry at fleet size: a thousand registered models, one per series, each with a
champion, as `retrain_all` leaves them. Measures what people and the API do with it: `mlts
models`, the API's start and its periodic refresh, and the MLflow UI's model list (through an
MLflow server on the same store). `python -m bench.fleet_registry` (BENCH_MODELS sets the count)."""

import os
import shutil
import subprocess
import time

import httpx
from pydantic import SecretStr

from bench.common import BIN, WORK, database, frame_of, mlts_serve, rss_mb, start, synthetic, wait_ready
from bench.report import Report, run_alone
from core import registry
from core.ingest import ingest_frame
from core.mongo import database_url
from core.processes import api_up, free_port, http_ok
from core.settings import get_settings

HOME = WORK / "fleet-home"


_OURS = ("MLFLOW_", "PREFECT_", "MLTS_")


def _env() -> dict[str, str]:
    """The fleet's own MLTS_HOME, and none of this process's MLflow, Prefect or mlts settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    return {**env, "MLTS_HOME": str(HOME), "MONGODB_URL": database_url(get_settings()), "LOG_LEVEL": "WARNING"}


def _spawn_env(**extra: str) -> dict[str, str | None]:
    """The same for `start`, which adds to this process's environment: ours removed by name."""
    return {k: None for k in os.environ if k.startswith(_OURS)} | _env() | extra


def _timed(*args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "mlts"), *args], env=_env(), capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"mlts {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - started


def _first_model() -> tuple[object, object, str]:
    """One model trained by the flow: the registry client, its version and its artifact's folder."""
    ingest_frame(database(), frame_of(synthetic(2_000, seed=7), sensor="f0"), "fleet", drop=True)
    _timed("train", "--collection", "fleet", "--window-size", "24", "--epochs", "200", "--local")
    settings = get_settings().model_copy(update={"mlflow_tracking_uri": SecretStr(f"sqlite:///{HOME}/mlflow.db")})
    client = registry.client(settings)
    (first,) = registry.promoted_models(client, settings.model_alias)
    source = client.get_model_version(first.name, first.version)
    # The logged model's own folder: a `models:/m-…` source would be looked up in the process's
    # default tracking store, not this one.
    return client, source, registry.model_json_uri(client, source).removesuffix(f"/{registry.MODEL_JSON}")


def _register(client, source, location: str, numbers: range) -> float:
    """More models registered from the first one's artifact, each promoted the way the flow
    promotes (alias and the registered model's champion summary); the seconds it took."""
    alias = get_settings().model_alias
    started = time.perf_counter()
    for i in numbers:
        name = f"fleet.value.sensor_id-f{i:04d}"
        client.create_registered_model(name)
        version = client.create_model_version(name, location, run_id=source.run_id)
        client.set_registered_model_alias(name, alias, version.version)
        at = f"2026-01-01T00:{i % 60:02d}"
        uri = f"{location}/{registry.MODEL_JSON}"  # as a training's promotion records it
        registry.record_alias(client, name, alias, version.version, source.run_id, at, "1.0", uri)
    return time.perf_counter() - started


def _start_to_ready(name: str, **env: str) -> dict[str, float]:
    """Seconds from `mlts serve` to its first /health answer ("starting"), to its app running
    and to /ready, with the models then loaded and the resident memory."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    with start(mlts_serve(port), name, _spawn_env(**env)) as api:
        api.wait_until(lambda: http_ok(f"{base}/health", timeout=2), 300, "/health")
        health = time.perf_counter() - started
        api.wait_until(lambda: api_up(base, timeout=2), 300, "the app running")
        app = time.perf_counter() - started
        api.wait_until(lambda: http_ok(f"{base}/ready", timeout=2), 900, "/ready")
        ready = time.perf_counter() - started
        loaded = httpx.get(f"{base}/ready").json()["models"]
        return {"health": health, "app": app, "ready": ready, "loaded": loaded, "rss": rss_mb(api.pid), "port": port}


def run(report: Report) -> None:
    count = int(os.environ.get("BENCH_MODELS", "1000"))
    client, source, location = _first_model()
    few = min(100, count)
    registering = _register(client, source, location, range(1, few))
    shutil.rmtree(HOME / "serving", ignore_errors=True)  # a first start: no version cached yet
    cold = _start_to_ready("fleet-api-first")
    warm = _start_to_ready("fleet-api-again")
    registering += _register(client, source, location, range(few, count))
    settings = get_settings()

    started = time.perf_counter()
    promoted = registry.promoted_models(client, settings.model_alias)
    listing = time.perf_counter() - started
    models_cli = _timed("models")

    port = free_port()
    started = time.perf_counter()
    with start(mlts_serve(port), "fleet-api", _spawn_env(MODEL_REFRESH_SECONDS="5")) as api:
        wait_ready(api, f"http://127.0.0.1:{port}/ready", timeout=900)
        api.wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/ready").json()["models"] >= count, 900, "all")
        loaded_s = time.perf_counter() - started
        loaded = httpx.get(f"http://127.0.0.1:{port}/ready").json()["models"]
        rss = rss_mb(api.pid)
        time.sleep(12)  # two refreshes with nothing to load
        refresh = httpx.get(f"http://127.0.0.1:{port}/health").json().get("last_refresh_seconds")
    started = time.perf_counter()
    with start(mlts_serve(port), "fleet-api-restart", _spawn_env()) as api:
        wait_ready(api, f"http://127.0.0.1:{port}/ready", timeout=900)
        api.wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/ready").json()["models"] >= count, 900, "all")
        restart_s = time.perf_counter() - started

    ui_port = free_port()
    mlflow = [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{HOME}/mlflow.db", "--workers", "1"]
    with start([*mlflow, "--host", "127.0.0.1", "--port", str(ui_port)], "fleet-mlflow", _spawn_env()):
        base = f"http://127.0.0.1:{ui_port}"
        deadline = time.monotonic() + 120
        while not http_ok(f"{base}/health", timeout=2) and time.monotonic() < deadline:
            time.sleep(0.5)
        search = f"{base}/ajax-api/2.0/mlflow/registered-models/search"
        started = time.perf_counter()
        page = httpx.get(search, params={"max_results": 25, "order_by": "name ASC"}, timeout=60).json()
        ui_list = time.perf_counter() - started

    report.target(f"mlts models, {count} models", "< 5 s", f"{models_cli:.1f} s", models_cli < 5)
    report.target(f"API registry refresh, {count} models loaded", "< 1 s", _seconds(refresh), (refresh or 99) < 1)
    report.target(f"MLflow UI model list, {count} models", "< 1 s", f"{ui_list:.2f} s", ui_list < 1)
    report.target(f"API restart to /ready, {count} models", "< 2 s", f"{restart_s:.1f} s", restart_s < 2)
    report.target(
        f"API first start to /ready, {few} models (none cached)", "< 2 s", f"{cold['ready']:.2f} s", cold["ready"] < 2
    )
    report.target("API start to first /health answer", "< 1 s", f"{cold['health']:.2f} s", cold["health"] < 1)
    report.table(
        "fleet_registry",
        f"7. The registry at fleet size: {count} registered models, each with a champion",
        ["what", "s"],
        [
            [f"register and promote {count - 1} models (client calls)", f"{registering:.1f}"],
            [
                f"API first start: /health, the app running, /ready with {cold['loaded']} of {few} models "
                "(nothing cached)",
                f"{cold['health']:.2f}, {cold['app']:.2f}, {cold['ready']:.2f}",
            ],
            [
                f"API start again: /health, the app running, /ready with {warm['loaded']} of {few} (from its cache)",
                f"{warm['health']:.2f}, {warm['app']:.2f}, {warm['ready']:.2f}",
            ],
            [f"promoted_models(): {len(promoted)} champions in one paged search", f"{listing:.2f}"],
            ["`mlts models` (whole command)", f"{models_cli:.1f}"],
            [f"API first start to /ready ({loaded} models loaded, RSS {rss:.0f} MB)", f"{loaded_s:.1f}"],
            ["API restart to /ready (versions from its cache under MLTS_HOME)", f"{restart_s:.1f}"],
            ["API refresh with nothing new (every MODEL_REFRESH_SECONDS)", _seconds(refresh)],
            [f"MLflow UI model list (first 25 of {len(page.get('registered_models', []))}+, server)", f"{ui_list:.2f}"],
        ],
        "One registered model per series holds at this size: listing reads the champion summary each registered "
        "model carries (tag mlts.alias.champion), so neither `mlts models` nor the API's refresh fetches each version.",
    )


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    run_alone(run)
