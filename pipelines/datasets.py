"""The run's input as an MLflow dataset, so the UI's Dataset column and the run's inputs show
what a model was trained on."""

import hashlib
import json
from typing import TYPE_CHECKING

import numpy as np

from core.masking import mask_url
from core.series import SeriesSpec
from core.settings import Settings
from pipelines.training import Split, data_summary

if TYPE_CHECKING:
    from mlflow import MlflowClient


def log_dataset(client: "MlflowClient", run_id: str, spec: SeriesSpec, split: Split, settings: Settings) -> None:
    """The run's input as an MLflow dataset (the UI's Dataset column): where it came from (the
    database, collection and filter; the server's URL with its password masked), a digest of the
    values trained on, their schema, row count and time range."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    digest = hashlib.md5(split.values.tobytes() + split.timestamps.astype(np.int64).tobytes(), usedforsecurity=False)
    source = {
        "uri": mask_url(settings.mongo_url) if settings.mongo_url else "embedded MongoDB (MLTS_HOME)",
        "database": settings.mongodb_database,
        "collection": spec.collection,
        "filter": dict(spec.filter),
        "timestamp_field": spec.timestamp_field,
        "value_field": spec.value_field,
    }
    schema = {"mlflow_colspec": [{"name": "timestamp", "type": "datetime"}, {"name": "value", "type": "double"}]}
    profile = {
        "num_rows": int(len(split.values)),
        "start": data_summary(split)["data_start"],
        "end": data_summary(split)["data_end"],
        "filled_points": split.filled,
        "dropped_points": split.dropped,
    }
    dataset = Dataset(
        name=spec.model_name,
        digest=digest.hexdigest()[:8],
        source_type="mongodb",
        source=json.dumps(source, sort_keys=True, default=str),
        schema=json.dumps(schema),
        profile=json.dumps(profile),
    )
    client.log_inputs(run_id, datasets=[DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "training")])])
