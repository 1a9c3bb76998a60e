"""Settings applied to the process, once, by each entry point (the CLI, the API's factory, a
flow worker, the tests, the benchmarks) before MLflow, Prefect, Great Expectations or matplotlib
are imported: they read their configuration from the environment at import time.

Nothing else in mlts writes `os.environ` or installs warning filters (`pipelines.failure_logs`
adds one logging filter, to Prefect's run loggers, where the flows are defined).
"""

import os
import tempfile
import warnings

from core.settings import Settings, get_settings
from core.stack import recorded

# A registry that is down must not hold the API's model refresh for minutes (MLflow's default:
# 7 retries with exponential backoff); the poller tries again on its next tick anyway.
_SERVING_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
}


def bootstrap(settings: Settings | None = None, serving: bool = False) -> Settings:
    """Point the libraries at MLTS_HOME and switch their telemetry off (plants are offline, and
    so are our machines); use the servers of the local stack (`mlts up`) when they run and no
    other is configured. Variables already set win. Returns the settings it applied."""
    settings = settings or get_settings()
    if _use_stack(settings):
        get_settings.cache_clear()
        settings = get_settings()
    home = settings.home.resolve()
    for folder in ("prefect", "tmp"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    defaults = {
        # The libraries' own scratch files (MLflow's schema lock, Dask's scratch space, Prefect's
        # runner storage, Great Expectations' docs site) go under MLTS_HOME too, children included.
        "TMPDIR": str(home / "tmp"),
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "PREFECT_HOME": str(home / "prefect"),
        "MPLCONFIGDIR": str(home / "matplotlib"),
        "MPLBACKEND": "Agg",
        "GX_ANALYTICS_ENABLED": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        # Against a server MLflow prints two links per finished run to stdout (and reads the run
        # back to make them): 80 lines for a tuning's child runs, and in the way of `--json`.
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
        # Tunings log their child runs 4 at a time, several series at once: keep those connections.
        "MLFLOW_HTTP_POOL_MAXSIZE": "32",
        "DO_NOT_TRACK": "true",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Prefect's 20 s is too short for its temporary server on a busy two-core machine.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        **(_SERVING_DEFAULTS if serving else {}),
    }
    for name, value in defaults.items():
        if not os.environ.get(name):
            os.environ[name] = value
    tempfile.tempdir = None  # read TMPDIR again on next use
    # numpy parses "+02:00" offsets to UTC and warns that datetime64 has no zone: expected.
    warnings.filterwarnings("ignore", message="no explicit representation of timezones", category=UserWarning)
    return settings


def _use_stack(settings: Settings) -> bool:
    """MLflow and Prefect of `mlts up`, where no URL of theirs is set; whether anything changed."""
    changed = False
    mlflow = recorded(settings.home, "mlflow")
    if mlflow and settings.mlflow_tracking_uri is None:
        os.environ["MLFLOW_TRACKING_URI"] = mlflow["url"]
        changed = True
    prefect = recorded(settings.home, "prefect")
    if prefect and not os.environ.get("PREFECT_API_URL"):
        os.environ["PREFECT_API_URL"] = f"{prefect['url']}/api"
        changed = True
    return changed
