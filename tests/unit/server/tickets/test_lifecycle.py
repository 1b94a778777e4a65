"""The workflow table: which moves are allowed, and what each move stamps on the ticket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from veo.server.tickets import lifecycle
from veo.server.tickets.models import TICKET_STATUSES, Ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _ticket(status: str) -> Ticket:
    return Ticket(
        title="x", requester_name="y", requester_email="y@example.org", status=status, reopened_count=0
    )


def test_every_status_has_a_row_and_only_known_targets() -> None:
    assert set(lifecycle.TRANSITIONS) == set(TICKET_STATUSES)
    for targets in lifecycle.TRANSITIONS.values():
        assert targets <= set(TICKET_STATUSES)


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        ("new", "open"),
        ("open", "waiting"),
        ("waiting", "open"),
        ("open", "resolved"),
        ("resolved", "closed"),
        ("resolved", "open"),
        ("closed", "open"),
        ("new", "closed"),
    ],
)
def test_allowed_moves(current: str, wanted: str) -> None:
    lifecycle.check(current, wanted)


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        ("open", "new"),
        ("closed", "resolved"),
        ("closed", "waiting"),
        ("resolved", "waiting"),
        ("waiting", "new"),
    ],
)
def test_forbidden_moves_name_the_allowed_ones(current: str, wanted: str) -> None:
    with pytest.raises(lifecycle.InvalidTransition) as caught:
        lifecycle.check(current, wanted)
    assert caught.value.status == 409 and caught.value.code == "invalid_transition"
    for allowed in lifecycle.TRANSITIONS[current]:
        assert allowed in caught.value.message


def test_resolve_then_close_keeps_the_resolution_time() -> None:
    ticket = _ticket("open")
    lifecycle.stamp(ticket, "resolved", T0)
    lifecycle.stamp(ticket, "closed", T0 + timedelta(days=2))
    assert ticket.resolved_at == T0 and ticket.closed_at == T0 + timedelta(days=2)
    assert ticket.status == "closed" and ticket.status_changed_at == T0 + timedelta(days=2)


def test_closing_unresolved_counts_as_resolved_then() -> None:
    ticket = _ticket("waiting")
    lifecycle.stamp(ticket, "closed", T0)
    assert ticket.resolved_at == T0 == ticket.closed_at


def test_reopen_counts_and_clears_the_resolution() -> None:
    ticket = _ticket("open")
    lifecycle.stamp(ticket, "resolved", T0)
    lifecycle.stamp(ticket, "open", T0 + timedelta(hours=1))
    assert ticket.reopened_count == 1 and ticket.resolved_at is None and ticket.closed_at is None
    lifecycle.stamp(ticket, "closed", T0 + timedelta(hours=2))
    lifecycle.stamp(ticket, "open", T0 + timedelta(hours=3))
    assert ticket.reopened_count == 2
