"""What the ticket templates call to turn stored codes into words, in the reader's language.

Templates receive these as plain functions so they format with the request's language (from
``veo.server.lang``) without touching the shared Jinja environment. The code → sentence tables
themselves live in :mod:`veo.server.web.wording`, shared with the audit log, the e-mail list and
the console; this module adds only what is particular to tickets (priorities, channels, sorts).
"""

from __future__ import annotations

from veo.server.lang import _
from veo.server.web import wording
from veo.server.web.wording import duration, number, when

__all__ = ["HELPERS", "duration", "field_label", "number", "ticket_label", "when"]


def ticket_label(code: str | None) -> str:
    """Translated names of the ticket codes that the shared ``label`` does not know."""
    labels = {
        "low": _("Low"),
        "normal": _("Normal"),
        "high": _("High"),
        "urgent": _("Urgent"),
        "phone": _("Phone"),
        "email": _("E-mail"),
        "portal": _("Portal"),
        "walk_in": _("Walk-in"),
        "-created": _("Newest first"),
        "created": _("Oldest first"),
        "-updated": _("Recently updated"),
        "updated": _("Least recently updated"),
        "-priority": _("Highest priority first"),
        "priority": _("Lowest priority first"),
    }
    if not code:
        return "—"
    if code in ("email_link", "phone_questions", "managed_device", "not_verified"):
        return wording.identity_method(code)
    return labels.get(code, code)


def field_label(field: str) -> str:
    """The name of a ticket field, as the history table shows it."""
    return wording.ticket_field(field)


HELPERS = {
    "when": when,
    "number": number,
    "duration": duration,
    "tlabel": ticket_label,
    "field_label": field_label,
    "permissions_text": wording.permissions,
    "ended_by_text": wording.ended_by,
    "end_reason_text": wording.end_reason,
    "ending_text": wording.session_ending,
    "identity_text": wording.identity_method,
    "action_text": wording.action,
    "actor_text": wording.actor,
    "event_text": wording.event_details,
    "mail_event_text": wording.mail_event,
}
