"""Prefect logs every exception a flow or task run ends with, traceback included. When the
exception is the user's data or request (a failed validation, too few points, a series being
trained elsewhere), its message already says what to fix and a traceback only buries it, in the
CLI's output, the API's log and the Prefect UI alike; bugs keep theirs."""

import logging

from core.errors import MltsError
from ml.errors import ForecastInputError, ModelFormatError
from pipelines.validation import ValidationFailed

EXPECTED = (MltsError, ValidationFailed, ForecastInputError, ModelFormatError)
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class WithoutTraceback(logging.Filter):
    """Keeps the record and its message; drops the traceback of an expected failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], EXPECTED):
            record.exc_info = None
            record.exc_text = None
        return True


def install() -> None:
    """Idempotent: the filter goes on Prefect's run loggers once per process."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, WithoutTraceback) for existing in logger.filters):
            logger.addFilter(WithoutTraceback())
