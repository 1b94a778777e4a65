"""How deliveries look to people: a translated state, and a ticket's e-mail that needs attention."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.server.lang import _, ngettext
from veo.server.notify.models import OutboxMessage, RatingRequest
from veo.server.notify.rating import ticket_ratings
from veo.server.notify.webhooks import FIXED_ERRORS

#: What the worker writes as ``last_error`` while no SMTP server is set (``notify/worker.py``).
UNCONFIGURED_PREFIX = "e-mail is not configured"


def waits_for_configuration(message: OutboxMessage) -> bool:
    """True while the message waits only because this server has no SMTP server set."""
    return message.status != "sent" and message.last_error.startswith(UNCONFIGURED_PREFIX)


def delivery_label(message: OutboxMessage) -> str:
    """ "sent", "not delivered yet, retrying" (with the attempt count) or "failed"."""
    if message.status == "sent":
        return _("sent")
    if message.status == "failed":
        return _("not delivered: failed")
    if waits_for_configuration(message):
        return _("waiting: e-mail is not set up on this server yet")
    if message.attempts == 0 and not message.last_error:
        return _("queued")
    return ngettext(
        "not delivered, retrying (%(n)s attempt)",
        "not delivered, retrying (%(n)s attempts)",
        message.attempts,
    ) % {"n": message.attempts}


def error_text(message: OutboxMessage) -> str:
    """The last error in the reader's language when it is one of the worker's fixed sentences
    (webhook failures are only these, see ``webhooks.py``); else as stored (e.g. "HTTP 500").

    Nothing while the message only waits for e-mail to be set up: the state and the page's banner
    already say so in the reader's language, and the stored reason is an English note for the log.
    """
    if waits_for_configuration(message):
        return ""
    return _(message.last_error) if message.last_error in FIXED_ERRORS else message.last_error


def ticket_deliveries(db: Session, ticket_id: int, *, limit: int = 20) -> list[OutboxMessage]:
    """A ticket's e-mails, newest first, for the ticket page (webhooks are for admins)."""
    return list(
        db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.ticket_id == ticket_id, OutboxMessage.kind == "email")
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class TicketNotices:
    """What ``notify/ticket_notices.html`` shows on a ticket page."""

    deliveries: list[OutboxMessage]
    #: Ratings from the "resolved" e-mail's page (session ratings are shown with the sessions).
    ratings: list[RatingRequest]

    @property
    def undelivered(self) -> list[OutboxMessage]:
        return [m for m in self.deliveries if m.status != "sent"]

    @property
    def stuck(self) -> list[OutboxMessage]:
        """Undelivered for a reason of their own (refused, retrying); not a server without e-mail,
        which is said once to administrators (``/admin/outbox``), not on every ticket."""
        return [m for m in self.undelivered if not waits_for_configuration(m)]


def ticket_notices(db: Session, ticket_id: int) -> TicketNotices:
    ratings = [r for r in ticket_ratings(db, ticket_id) if r.session_id is None]
    return TicketNotices(deliveries=ticket_deliveries(db, ticket_id), ratings=ratings)
