"""schemathesis against ``/api/v1/openapi.json``: every operation, without and with a token.

Cases come from the published schema and go to the real app in-process (schemathesis' ASGI
transport runs the app's start-up once). Each answer must not be a 5xx, must use a status code
and content type the schema declares for that operation, and must match the declared body.
The number of cases run is printed (``pytest -s``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis import checks as st_checks
from schemathesis.core.result import Err
from schemathesis.python import asgi as st_asgi
from tests.support import make_user

from veo.config import Settings
from veo.server.app import create_app
from veo.server.auth import service
from veo.server.db.engine import Database

pytestmark = pytest.mark.timeout(600)

EXAMPLES_PER_OPERATION = 50
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
]


@dataclass
class Tally:
    cases: int = 0
    operations: int = 0
    failures: list[str] = field(default_factory=list)


@pytest.fixture
def fresh_token(settings: Settings) -> Iterator[Callable[[], dict[str, str]]]:
    """Bearer headers of a lead (reads the whole audit log; no TOTP by default), new for each
    operation: ``sign-out-everywhere`` is one of the operations and ends every token."""
    db = Database(settings.effective_database_url)
    lead = make_user(db, "lead@example.org", role="lead").user

    def issue() -> dict[str, str]:
        with db.session() as s:
            token, _expires = service.issue_api_token(s, lead)
        return {"Authorization": f"Bearer {token}"}

    try:
        yield issue
    finally:
        db.dispose()


def _run_operation(
    operation: schemathesis.APIOperation[Any, Any, Any, Any], headers: dict[str, str] | None, tally: Tally
) -> None:
    @hypothesis.given(case=operation.as_strategy())
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def one(case: schemathesis.Case[Any]) -> None:
        tally.cases += 1
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:
            label = "with token" if headers else "without token"
            first = str(exc).strip().splitlines()[:6]
            tally.failures.append(f"{operation.label} ({label}): " + " | ".join(first))
            raise

    with contextlib.suppress(Exception, BaseExceptionGroup):  # in tally.failures: one per operation
        one()


def test_every_operation_answers_within_its_schema(
    settings: Settings, fresh_token: Callable[[], dict[str, str]]
) -> None:
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    tally = Tally()
    started = time.monotonic()
    try:
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                raise AssertionError(f"the schema has an invalid operation: {result.err()}")
            operation = result.ok()
            tally.operations += 1
            _run_operation(operation, None, tally)
            _run_operation(operation, fresh_token(), tally)
    finally:
        st_asgi.shutdown_lifespans()
    seconds = time.monotonic() - started
    print(f"schemathesis: {tally.cases} cases over {tally.operations} operations in {seconds:.0f} s")
    assert tally.operations >= 20
    assert tally.failures == [], "\n".join(tally.failures)
