"""What a training is asked to do: one series and its hyper-parameters. The one request type of
every front end: the CLI builds it from its options, `POST /train` is its JSON (the original
API's `collection_name` accepted as the name of `collection`), the flows take it as their
parameter, and `series.yaml` lists many of them for `retrain_all`."""

from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from core.errors import InvalidInput, validation_message
from core.series import (
    COLLECTION_RULE,
    FIELD_PATH_PATTERN,
    MAX_FIELD_PATH,
    MAX_NAME,
    NAME_PATTERN,
    Scalar,
    SeriesSpec,
    check_filter,
)
from core.settings import Settings
from ml.forecaster import Hyperparameters
from ml.sampling import GapPolicy


class TrainingConfig(BaseModel):
    """One series and how to train it; unset hyper-parameters take the DEFAULT_* settings."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        json_schema_extra={
            "examples": [
                {
                    "collection_name": "sensor_readings",
                    "window_size": 24,
                    "epochs": 10000,
                    "filter": {"additional_features.sensor_id": "temp_office"},
                }
            ]
        },
    )

    collection: str = Field(
        validation_alias="collection_name",
        min_length=1,
        max_length=MAX_NAME,
        pattern=NAME_PATTERN,
        description="MongoDB collection holding the series (`collection_name` in the original API).",
    )
    value_field: str = Field(
        "value",
        min_length=1,
        max_length=MAX_FIELD_PATH,
        pattern=FIELD_PATH_PATTERN,
        description="Field with the numeric value (dotted for nested fields).",
    )
    timestamp_field: str = Field(
        "timestamp",
        min_length=1,
        max_length=MAX_FIELD_PATH,
        pattern=FIELD_PATH_PATTERN,
        description="Field with the timestamp.",
    )
    filter: dict[str, Scalar] = Field(
        default_factory=dict,
        description='Equality filter selecting the series, e.g. {"additional_features.sensor_id": "sensor_1"}.',
    )
    limit: int | None = Field(None, ge=1, description="Train on the most recent N points only.")
    window_size: int | None = Field(None, ge=1, le=1000, description="Values the model looks back at.")
    epochs: int | None = Field(None, ge=1, le=1_000_000, description="Maximum epochs (early stopping ends sooner).")
    learning_rate: float | None = Field(None, gt=0, le=1, description="Fraction of the largest stable step, in (0, 1].")
    patience: int | None = Field(None, ge=1, le=1_000_000, description="Epochs without improvement before stopping.")
    holdout_fraction: float | None = Field(None, gt=0, lt=1, description="Share of the series kept for evaluation.")
    value_min: float | None = Field(None, description="Smallest plausible value; validation fails below it.")
    value_max: float | None = Field(None, description="Largest plausible value; validation fails above it.")
    gaps: GapPolicy | None = Field(
        None,
        description="Gaps in the sampling: fail (default GAPS; the error names them), interpolate (fill gaps of up "
        "to max_gap_points linearly) or drop_before (train on the data after the last longer gap).",
    )
    max_gap_points: int | None = Field(
        None, ge=1, le=100_000, description="Longest gap interpolate fills, in missing points (default MAX_GAP_POINTS)."
    )
    tune: bool = Field(
        False,
        description="Choose window, differencing, seasonal lags and calendar inputs by rolling-origin backtest "
        "on the training part (TUNE_TIME_BUDGET, TUNE_MAX_CANDIDATES); each candidate is a child run.",
    )

    @field_validator("collection", mode="wrap")
    @classmethod
    def _collection(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> str:
        try:
            return handler(value)
        except ValidationError as exc:
            raise PydanticCustomError(
                "collection_name", "{problem}: " + COLLECTION_RULE, {"problem": exc.errors()[0]["msg"]}
            ) from None

    @field_validator("filter", mode="before")
    @classmethod
    def _filter(cls, value: Any) -> dict[str, Scalar]:
        return check_filter(value)

    @model_validator(mode="after")
    def _bounds(self) -> "TrainingConfig":
        if self.value_min is not None and self.value_max is not None and self.value_min > self.value_max:
            raise ValueError(f"value_min ({self.value_min}) is above value_max ({self.value_max})")
        return self

    @classmethod
    def parse(cls, data: dict[str, Any] | bytes | str) -> "TrainingConfig":
        """From a mapping or JSON text; InvalidInput naming each wrong field otherwise."""
        try:
            if isinstance(data, (bytes, str)):
                return cls.model_validate_json(data)
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidInput(validation_message(exc)) from None

    @property
    def spec(self) -> SeriesSpec:
        return SeriesSpec(self.collection, self.value_field, self.timestamp_field, self.filter)

    def gap_policy(self, settings: Settings) -> tuple[GapPolicy, int]:
        return self.gaps or settings.gaps, self.max_gap_points or settings.max_gap_points

    def hyperparameters(self, settings: Settings) -> Hyperparameters:
        return Hyperparameters(
            window_size=self.window_size or settings.default_window_size,
            epochs=self.epochs or settings.default_epochs,
            learning_rate=self.learning_rate or settings.default_learning_rate,
            patience=self.patience or settings.default_patience,
        )


class RetrainConfig(BaseModel):
    """The YAML file `retrain_all` reads: `defaults` apply to every entry of `series`."""

    model_config = ConfigDict(extra="forbid")

    defaults: dict[str, Any] = Field(default_factory=dict)
    series: list[dict[str, Any]] = Field(min_length=1)

    def trainings(self) -> list[TrainingConfig]:
        return [TrainingConfig(**{**self.defaults, **entry}) for entry in self.series]


class ConfigFileError(InvalidInput):
    pass


def load_retrain_config(path: str | Path) -> list[TrainingConfig]:
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigFileError(f"cannot read {path}: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigFileError(f"{path} must hold a mapping with a `series` list")
    try:
        return RetrainConfig(**document).trainings()
    except ValidationError as exc:
        raise ConfigFileError(f"{path}: {validation_message(exc, limit=10)}") from None
    except (ValueError, TypeError) as exc:
        raise ConfigFileError(f"{path}: {exc}") from None
