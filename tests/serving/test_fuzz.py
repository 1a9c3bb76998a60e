"""Property-based fuzzing of the whole HTTP API from its own OpenAPI schema (schemathesis):
whatever a client sends, valid by the schema or not, no 5xx, every response as documented, every
4xx with a message."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

EXAMPLES = 25


def error_has_a_message(ctx, response, case) -> bool:
    if 400 <= response.status_code < 500:
        body = response.json()
        detail = body.get("detail") if isinstance(body, dict) else None
        assert isinstance(detail, str) and len(detail) > 10, (
            f"{response.status_code} without a message: {response.text[:200]}"
        )
    return True


CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance, error_has_a_message]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_gets_a_server_error_or_an_undocumented_answer(api, mode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    fuzzed = 0
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:
            case.call_and_validate(checks=CHECKS)

        try:
            check()
            fuzzed += 1
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE  # nothing to make invalid in a route without inputs
    assert fuzzed >= (11 if mode == GenerationMode.POSITIVE else 5)
