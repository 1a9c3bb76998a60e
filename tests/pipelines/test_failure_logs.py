"""A flow that fails on the user's data logs the reason without a traceback; a bug keeps its."""

import logging
import sys

import pytest

from core.training_config import TrainingConfig
from pipelines.failure_logs import RUN_LOGGERS, WithoutTraceback
from pipelines.flows import train_series
from pipelines.validation import ValidationFailed


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def run_logs():
    handler = Records()
    loggers = [logging.getLogger(name) for name in RUN_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.records
    for logger in loggers:
        logger.removeHandler(handler)


def test_a_failed_validation_is_logged_without_a_traceback(mongo_db, mlflow_store, seed_series, run_logs) -> None:
    seed_series(values=[1.0, 2.0, 3.0])
    with pytest.raises(ValidationFailed):
        train_series(TrainingConfig(collection="readings"))
    (failure,) = [r for r in run_logs if "Encountered exception" in r.getMessage()]
    assert "too few points" in failure.getMessage() and failure.exc_info is None


def test_an_unexpected_error_keeps_its_traceback() -> None:
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        bug = logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    try:
        raise ValueError("not ours either")  # could be a bug
    except ValueError:
        plain = logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    for record in (bug, plain):
        assert WithoutTraceback().filter(record) and record.exc_info is not None
