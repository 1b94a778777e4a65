"""The ticket workflow as data: which status may follow which, and what each step stamps.

new -> open -> waiting (on the user) -> resolved -> closed, with reopening from resolved or
closed back to open. Keeping the allowed moves in one table means the form, the REST API and any
other caller (e-mail replies, a session's end) refuse the same moves with the same message.
"""

from __future__ import annotations

from datetime import datetime

from veo.server.errors import ApiError
from veo.server.lang import _
from veo.server.tickets.models import Ticket

#: Status -> statuses it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "waiting", "resolved", "closed"}),
    "open": frozenset({"waiting", "resolved", "closed"}),
    "waiting": frozenset({"open", "resolved", "closed"}),
    "resolved": frozenset({"open", "closed"}),
    "closed": frozenset({"open"}),
}
DONE = frozenset({"resolved", "closed"})


class InvalidTransition(ApiError):
    """The ticket's workflow does not allow this move (409 ``invalid_transition``)."""

    def __init__(self, current: str, wanted: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS.get(current, frozenset()))) or "-"
        super().__init__(
            409,
            "invalid_transition",
            _("A ticket cannot go from %(current)s to %(wanted)s; from there it may go to: %(allowed)s.")
            % {"current": current, "wanted": wanted, "allowed": allowed},
        )


def check(current: str, wanted: str) -> None:
    if wanted not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(current, wanted)


def is_reopen(current: str, wanted: str) -> bool:
    return current in DONE and wanted not in DONE


def stamp(ticket: Ticket, wanted: str, now: datetime) -> None:
    """Set the timestamps and counters that metrics read; the caller has checked the move.

    Closing implies resolving (a ticket closed straight from open still counts as resolved at
    that moment); reopening clears both so the next resolution is measured afresh.
    """
    if is_reopen(ticket.status, wanted):
        ticket.reopened_count += 1
        ticket.resolved_at = None
        ticket.closed_at = None
    if wanted == "resolved":
        ticket.resolved_at = now
    if wanted == "closed":
        ticket.closed_at = now
        if ticket.resolved_at is None:
            ticket.resolved_at = now
    ticket.status = wanted
    ticket.status_changed_at = now
