"""Dates and numbers in the reader's locale (Babel), for the ticket templates.

Templates receive these as plain functions so they format with the request's language (from
``veo.server.lang``) without touching the shared Jinja environment. Times are shown in UTC and
say so: the server does not know each reader's time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime

from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_decimal

from veo.server.lang import _, get_language


def when(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return "—"
    return f"{format_datetime(value, format=fmt, tzinfo=UTC, locale=get_language())} UTC"


def number(value: int | float) -> str:
    return format_decimal(value, locale=get_language())


def duration(seconds: int | None) -> str:
    """Exact below an hour (a session of 95 s reads "1 min 35 s"), Babel's rounding above."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return _("%(minutes)d min %(seconds)d s") % {"minutes": seconds // 60, "seconds": seconds % 60}
    return format_timedelta(seconds, threshold=1.5, locale=get_language())


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
        "email_link": _("join link sent to the requester's e-mail"),
        "phone_questions": _("verified by phone questions"),
        "managed_device": _("managed device of the user"),
        "not_verified": _("not verified"),
        "-created": _("Newest first"),
        "created": _("Oldest first"),
        "-updated": _("Recently updated"),
        "updated": _("Least recently updated"),
        "-priority": _("Highest priority first"),
        "priority": _("Lowest priority first"),
    }
    if not code:
        return "—"
    return labels.get(code, code)


def field_label(field: str) -> str:
    """The name of a ticket field, as the history table shows it."""
    labels = {
        "title": _("Title"),
        "description": _("Description"),
        "requester_name": _("Requester's name"),
        "requester_email": _("Requester's e-mail"),
        "requester_department": _("Department"),
        "priority": _("Priority"),
        "channel": _("Channel"),
        "category_id": _("Category"),
        "assignee_id": _("Assignee"),
        "status": _("Status"),
        "resolution_note": _("Resolution note"),
        "first_response_at": _("First response"),
    }
    return labels.get(field, field)


HELPERS = {
    "when": when,
    "number": number,
    "duration": duration,
    "tlabel": ticket_label,
    "field_label": field_label,
}
