"""schemathesis against ``/api/v1/openapi.json``: every operation, without and with a token.

Cases come from the published schema and go to the real app in-process (schemathesis' ASGI
transport runs the app's start-up once). Each answer must not be a 5xx, must use a status code
and content type the schema declares for that operation, and must match the declared body.
The number of cases run is printed (``pytest -s``).

Without a token an operation that needs one answers 401 from its authentication dependency, before
any parameter or body is used: the first ``UNAUTHENTICATED_EXAMPLES`` cases show it. An operation
that answers anything else without a token (a public one: the token exchange's refusals aside, the
protocol document, enrolment; or one that lost its check) gets the full ``EXAMPLES_PER_OPERATION``
without a token too. Every operation gets the full number with a token.

A second, shorter run sends what the schema forbids (schemathesis' negative mode) to every
operation with an integer path or query parameter: now that every id is bounded in the schema,
values past the bounds (2**63 among them, which once raised ``OverflowError``) must be refused
cleanly, never a 5xx. ``tests/integration/test_surface_integers.py`` sends the odd values to
every route, pages included, deterministically; this run adds hypothesis' own choices.
"""

from __future__ import annotations

import contextlib
import json
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
UNAUTHENTICATED_EXAMPLES = 10
NEGATIVE_EXAMPLES_PER_OPERATION = 20
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
    #: operations that answered something other than 401 without a token (given the full run)
    open_without_token: list[str] = field(default_factory=list)


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
    operation: schemathesis.APIOperation[Any, Any, Any, Any],
    headers: dict[str, str] | None,
    tally: Tally,
    *,
    mode: schemathesis.GenerationMode = schemathesis.GenerationMode.POSITIVE,
    examples: int = EXAMPLES_PER_OPERATION,
    checks: list[Any] = CHECKS,
) -> set[int]:
    """Run the cases; the status codes the operation answered."""
    statuses: set[int] = set()

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def one(case: schemathesis.Case[Any]) -> None:
        tally.cases += 1
        try:
            # Inside the try: an exception the app raises (re-raised by the in-process transport
            # after its 500) is a failure too, not a case that silently vanished.
            response = case.call(headers=headers)
            statuses.add(response.status_code)
            case.validate_response(response, checks=checks, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:
            label = "with token" if headers else "without token"
            first = str(exc).strip().splitlines()[:6]
            tally.failures.append(f"{operation.label} ({label}): " + " | ".join(first))
            raise

    with contextlib.suppress(Exception, BaseExceptionGroup):  # in tally.failures: one per operation
        one()
    return statuses


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
            if _run_operation(operation, None, tally, examples=UNAUTHENTICATED_EXAMPLES) != {401}:
                tally.open_without_token.append(operation.label)
                _run_operation(operation, None, tally)
            _run_operation(operation, fresh_token(), tally)
    finally:
        st_asgi.shutdown_lifespans()
    seconds = time.monotonic() - started
    print(f"schemathesis: {tally.cases} cases over {tally.operations} operations in {seconds:.0f} s")
    print(f"answered without a token (full run): {', '.join(tally.open_without_token)}")
    assert tally.operations >= 20
    # the public operations are among them: the rule above is not one that never fires
    assert {"GET /api/v1/protocol.json", "POST /api/v1/enrol"} <= set(tally.open_without_token)
    assert tally.failures == [], "\n".join(tally.failures)


def _integer_parameters(operation: schemathesis.APIOperation[Any, Any, Any, Any]) -> list[str]:
    params = [*operation.path_parameters, *operation.query]
    return [p.name for p in params if '"integer"' in json.dumps(p.definition)]


def test_integers_past_their_bounds_are_refused_cleanly(
    settings: Settings, fresh_token: Callable[[], dict[str, str]]
) -> None:
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    tally = Tally()
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            if not _integer_parameters(operation):
                continue
            tally.operations += 1
            _run_operation(
                operation,
                fresh_token(),
                tally,
                mode=schemathesis.GenerationMode.NEGATIVE,
                examples=NEGATIVE_EXAMPLES_PER_OPERATION,
                checks=[st_checks.not_a_server_error],
            )
    finally:
        st_asgi.shutdown_lifespans()
    print(f"schemathesis negative: {tally.cases} cases over {tally.operations} operations with integers")
    assert tally.operations >= 15
    assert tally.failures == [], "\n".join(tally.failures)
