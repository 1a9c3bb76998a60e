"""One error taxonomy: every failure maps to one kind, and each kind to one HTTP status and one
exit code."""

import pytest
from pydantic import BaseModel, Field, ValidationError
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from core.errors import (
    EXIT_CODE,
    HTTP_STATUS,
    Conflict,
    ErrorKind,
    InvalidInput,
    NotFound,
    Unavailable,
    classify,
    mongo_unavailable,
    validation_message,
)
from core.locks import TrainingInProgress
from core.mongo import SeriesNotFoundError
from core.series import SeriesSpecError
from ml.errors import ForecastInputError


class _Body(BaseModel):
    epochs: int = Field(ge=1)


def test_every_kind_has_a_status_and_an_exit_code() -> None:
    assert set(HTTP_STATUS) == set(EXIT_CODE) == set(ErrorKind)
    assert [HTTP_STATUS[k] for k in ErrorKind] == [422, 404, 409, 503]
    assert EXIT_CODE[ErrorKind.CONFLICT] == 75 and EXIT_CODE[ErrorKind.INVALID] == 1


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (SeriesSpecError("bad filter"), ErrorKind.INVALID),
        (ForecastInputError("too few points"), ErrorKind.INVALID),
        (SeriesNotFoundError("no collection"), ErrorKind.NOT_FOUND),
        (TrainingInProgress("busy"), ErrorKind.CONFLICT),
        (ServerSelectionTimeoutError("no server"), ErrorKind.UNAVAILABLE),
        (OperationFailure("denied"), ErrorKind.UNAVAILABLE),
        (RuntimeError("MLflow fell over"), ErrorKind.UNAVAILABLE),
    ],
)
def test_failures_are_classified_by_kind(error: Exception, kind: ErrorKind) -> None:
    classified = classify(error)
    assert classified.kind == kind
    assert classified.http_status == HTTP_STATUS[kind] and classified.exit_code == EXIT_CODE[kind]


def test_known_errors_keep_their_message_and_others_name_their_type() -> None:
    known = NotFound("collection 'x' does not exist")
    assert classify(known) is known
    assert classify(RuntimeError("boom")).message == "RuntimeError: boom"
    assert isinstance(InvalidInput("x"), ValueError) and isinstance(Conflict("x"), RuntimeError)
    assert isinstance(Unavailable("x"), ConnectionError)


def test_validation_messages_name_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        _Body(epochs=0)
    assert validation_message(caught.value) == "epochs: Input should be greater than or equal to 1"
    assert classify(caught.value).kind == ErrorKind.INVALID


def test_mongo_outage_wording_masks_credentials() -> None:
    error = mongo_unavailable(
        "mongodb://u:***@db/", ServerSelectionTimeoutError("db:27017 refused, Timeout: 5s"), ["hunter2"], 300
    )
    assert error.kind == ErrorKind.UNAVAILABLE
    assert error.message.startswith("cannot reach MongoDB at mongodb://u:***@db/: it is not answering within 300 ms")
    assert "Timeout" not in error.message
