"""The one settings object: environment variables and `.env`, read once.

Every variable is accepted under its plain name (the original system's `MONGODB_URL`, `PORT`,
…, and what platforms such as Render or Cloud Run set) and under the `MLTS_` prefix, which
wins when both are set, for machines where a plain name means something else.
"""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.masking import mask_url
from ml.drift import CUSUM_H
from ml.sampling import GapPolicy

PREFIX = "MLTS_"


def _env(name: str, default: Any = None, description: str = "", **kwargs: Any) -> Any:
    return Field(
        default,
        validation_alias=AliasChoices(f"{PREFIX}{name}", name) if not name.startswith(PREFIX) else name,
        description=description,
        **kwargs,
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True, protected_namespaces=())

    home: Path = _env(
        "MLTS_HOME", Path(".mlts"), "Folder for all local state: embedded Mongo data, MLflow store, Prefect home."
    )
    environment: Literal["development", "production", "test"] = _env(
        "ENVIRONMENT", "development", "production requires API_KEY and disables permissive defaults."
    )
    log_level: str = _env("LOG_LEVEL", "INFO", "Python log level of mlts' own loggers.")

    # MongoDB
    mongodb_url: SecretStr | None = _env(
        "MONGODB_URL", None, "mongodb:// or mongodb+srv:// URL; unset: the embedded server under MLTS_HOME."
    )
    mongodb_database: str = _env("MONGODB_DATABASE", "mlts", "Database holding the series collections.")
    mongodb_timeout_ms: int = _env("MONGODB_TIMEOUT_MS", 5000, "Server selection and connect timeout.", gt=0)

    # MLflow
    mlflow_tracking_uri: SecretStr | None = _env(
        "MLFLOW_TRACKING_URI", None, "MLflow tracking and registry URI; unset: sqlite under MLTS_HOME."
    )
    mlflow_ui_url: str | None = _env(
        "MLFLOW_UI_URL", None, "Base URL of the MLflow UI for run links; default: the tracking URI when it is http(s)."
    )
    model_alias: str = _env("MODEL_ALIAS", "champion", "Registry alias of the promoted version.")
    challenger_alias: str = _env("CHALLENGER_ALIAS", "challenger", "Alias of a version that lost to the champion.")

    # Training defaults (the original API's names)
    default_window_size: int = _env("DEFAULT_WINDOW_SIZE", 24, "Window length when a request names none.", ge=1)
    default_epochs: int = _env("DEFAULT_EPOCHS", 10_000, "Maximum epochs; early stopping usually ends sooner.", ge=1)
    default_learning_rate: float = _env(
        "DEFAULT_LEARNING_RATE", 1.0, "Fraction of the largest stable gradient step, in (0, 1].", gt=0, le=1
    )
    default_patience: int = _env("DEFAULT_PATIENCE", 100, "Epochs without improvement before training stops.", ge=1)
    holdout_fraction: float = _env("HOLDOUT_FRACTION", 0.2, "Share of the series kept for evaluation.", gt=0, lt=1)
    max_holdout: int = _env("MAX_HOLDOUT", 10_000, "Cap on holdout points for long series.", ge=10)
    interval_level: float = _env("INTERVAL_LEVEL", 0.9, "Coverage of prediction intervals.", gt=0, lt=1)
    gaps: GapPolicy = _env(
        "GAPS", "fail", "What training does with gaps in the sampling: fail (naming them), interpolate or drop_before."
    )
    max_gap_points: int = _env(
        "MAX_GAP_POINTS", 6, "Longest gap, in missing points, that gaps=interpolate fills (linearly).", ge=1
    )
    promotion_evidence: Literal["holdout", "backtest"] = _env(
        "PROMOTION_EVIDENCE",
        "holdout",
        "What the champion gate compares: holdout RMSE, or the mean RMSE of both versions refitted on the same "
        "rolling-origin folds of the training part (backtest).",
    )
    tune_time_budget: float = _env(
        "TUNE_TIME_BUDGET",
        60.0,
        "Seconds the search of `mlts tune` may take per series (candidates left unscored).",
        gt=0,
    )
    tune_max_candidates: int = _env(
        "TUNE_MAX_CANDIDATES", 40, "Most candidates `mlts tune` backtests per series.", ge=1
    )
    tune_child_runs: bool = _env(
        "TUNE_CHILD_RUNS",
        True,
        "One MLflow child run per candidate of `mlts tune`, for MLflow's Compare view; false keeps the "
        "candidates in tuning/selection.json only (fleets: the child runs cost about a second per series).",
    )
    training_lock_ttl_seconds: int = _env(
        "TRAINING_LOCK_TTL_SECONDS", 3600, "After this long a training lock left by a dead process is broken.", ge=1
    )

    # API
    host: str = _env("HOST", "0.0.0.0", "Interface `mlts serve` listens on.")
    port: int = _env("PORT", 8000, "Port `mlts serve` listens on (cloud platforms set PORT).", ge=1, le=65535)
    workers: int = _env("WORKERS", 1, "uvicorn worker processes of `mlts serve`.", ge=1, le=64)
    api_key: SecretStr | None = _env(
        "API_KEY", None, "Key required in X-API-Key by routes that write; required in production."
    )
    cors_origins: Annotated[list[str], NoDecode] = _env(
        "CORS_ORIGINS", [], "Comma-separated origins allowed by CORS (none by default; never '*' with credentials)."
    )
    model_name: str | None = _env(
        "MODEL_NAME", None, "Model /predict uses when a request names none; unset: the most recently promoted."
    )
    model_refresh_seconds: float = _env(
        "MODEL_REFRESH_SECONDS", 30.0, "How often the API checks the registry for a moved alias.", gt=0
    )
    max_points: int = _env("MAX_POINTS", 100_000, "Most points one /predict request may send.", ge=1)
    max_horizon: int = _env("MAX_HORIZON", 1000, "Most steps one forecast may ask for.", ge=1)
    max_batch_windows: int = _env(
        "MAX_BATCH_WINDOWS", 100_000, "Most windows one /predict/batch request may send.", ge=1
    )
    preload_training: bool = _env(
        "PRELOAD_TRAINING", False, "Import the training stack when the API starts, not at its first /train."
    )
    access_log: bool = _env(
        "ACCESS_LOG", True, "A line per request on stdout, as uvicorn's (written in batches); off with false."
    )
    model_webhook_url: str | None = _env(
        "MODEL_WEBHOOK_URL",
        None,
        "Base URL at which the MLflow server reaches this API; with MODEL_WEBHOOK_SECRET, alias moves are pushed.",
    )
    model_webhook_secret: SecretStr | None = _env(
        "MODEL_WEBHOOK_SECRET", None, "Secret of the API's MLflow webhook: deliveries must be signed with it (HMAC)."
    )
    max_body_bytes: int = _env("MAX_BODY_BYTES", 16 * 1024 * 1024, "Largest request body accepted.", ge=1024)

    # Monitoring: how served forecasts turn out
    prediction_log: bool = _env("PREDICTION_LOG", True, "Record every /predict answer that has timestamps.")
    prediction_log_collection: str = _env(
        "PREDICTION_LOG_COLLECTION", "mlts_predictions", "Mongo collection of the prediction log."
    )
    prediction_log_queue: int = _env(
        "PREDICTION_LOG_QUEUE", 10_000, "Forecasts held in memory while Mongo is slow; the oldest are dropped.", ge=10
    )
    prediction_log_retention_days: float = _env(
        "PREDICTION_LOG_RETENTION_DAYS", 30.0, "Logged forecasts older than this are deleted by `mlts monitor`.", gt=0
    )
    shadow_challenger: bool = _env(
        "SHADOW_CHALLENGER", True, "Also forecast (and log, never answer) with a series' challenger version."
    )
    monitor_window_days: float = _env(
        "MONITOR_WINDOW_DAYS", 7.0, "Trailing window of logged forecasts the live figures are computed on.", gt=0
    )
    monitor_min_actuals: int = _env(
        "MONITOR_MIN_ACTUALS", 20, "Matched actuals needed before drift or live promotion is decided.", ge=5
    )
    drift_cusum_threshold: float = _env(
        "DRIFT_CUSUM_THRESHOLD", CUSUM_H, "CUSUM threshold h on squared standardised one-step errors.", gt=0
    )
    drift_ks_alpha: float = _env(
        "DRIFT_KS_ALPHA", 0.01, "Significance of the Kolmogorov-Smirnov test on first differences.", gt=0, lt=1
    )
    drift_retrain: bool = _env("DRIFT_RETRAIN", True, "Retrain a series when drift is detected.")
    drift_retrain_min_points: int = _env(
        "DRIFT_RETRAIN_MIN_POINTS",
        0,
        "Points since a detected change before a drift retraining (trained on them); 0: 10 windows, at least 100.",
        ge=0,
    )
    drift_cooldown_hours: float = _env(
        "DRIFT_COOLDOWN_HOURS", 6.0, "No second drift retraining of a series within this time.", ge=0
    )
    live_promotion: bool = _env(
        "LIVE_PROMOTION", True, "Promote a challenger whose live error beats the champion's significantly."
    )
    live_promotion_alpha: float = _env(
        "LIVE_PROMOTION_ALPHA", 0.05, "Significance of the Diebold-Mariano test for live promotion.", gt=0, lt=1
    )
    alert_webhook_url: SecretStr | None = _env(
        "ALERT_WEBHOOK_URL", None, "Where alerts are POSTed as JSON (drift, coverage, silent series)."
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    def check_for_serving(self) -> None:
        """What the API refuses to start without."""
        if self.environment == "production" and self.api_key is None:
            raise ValueError("ENVIRONMENT=production requires API_KEY: set it to a long random string")
        if "*" in self.cors_origins:
            raise ValueError("CORS_ORIGINS='*' is not allowed; list the origins that may call the API")

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri is not None:
            return self.mlflow_tracking_uri.get_secret_value()
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> Path:
        """Where experiments created on a local (sqlite or file) store keep their artifacts."""
        return (self.home / "mlartifacts").resolve()

    @property
    def mongo_url(self) -> str | None:
        return None if self.mongodb_url is None else self.mongodb_url.get_secret_value()

    def describe(self) -> dict[str, Any]:
        """Settings as they may be shown: URLs with their passwords masked, secrets left out."""
        shown = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                value = mask_url(value.get_secret_value())
            shown[name] = str(value) if isinstance(value, Path) else value
        return shown

    @classmethod
    def variables(cls) -> dict[str, tuple[str, str]]:
        """Each setting's field name: the plain name of its variable, and its description."""
        found = {}
        for name, field in cls.model_fields.items():
            choices = field.validation_alias
            variable = choices.choices[-1] if isinstance(choices, AliasChoices) else choices
            found[name] = (str(variable), field.description or "")
        return found

    @classmethod
    def environment_variables(cls) -> dict[str, str]:
        """Every variable the settings read, by its plain name, with its description."""
        return dict(cls.variables().values())


@lru_cache
def get_settings() -> Settings:
    return Settings()
