"""Checking ticket fields: one place for the rules, so every entry point gives the same messages.

The form, the REST API and any future import call :func:`clean`; it reports every bad field at
once (``InvalidInput.fields``) so a form can show each message next to its field. Whether a
category or assignee *exists* needs the database and is checked by the service.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from veo.server.api.params import MAX_ID
from veo.server.errors import InvalidInput
from veo.server.lang import _
from veo.server.tickets.models import TICKET_CHANNELS, TICKET_PRIORITIES, TICKET_STATUSES

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
REQUIRED = ("title", "requester_name", "requester_email")
Value = str | int | None


def _text(value: str, low: int, high: int, message: str) -> str:
    if not low <= len(value) <= high:
        raise ValueError(message)
    return value


def _choice(value: str, choices: tuple[str, ...], message: str) -> str:
    if value not in choices:
        raise ValueError(message % {"choices": ", ".join(choices)})
    return value


def _email(value: str) -> str:
    if len(value) > 320 or not _EMAIL.match(value):
        raise ValueError(_("Enter a valid e-mail address, like ana@example.org."))
    return value.lower()


def _reference(raw: object) -> int | None:
    """A row id from JSON (int or null) or a form ("" = none)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ValueError(_("Choose an entry from the list."))
    if isinstance(raw, str):
        if not raw.strip().isdigit():
            raise ValueError(_("Choose an entry from the list."))
        raw = int(raw.strip())
    if not isinstance(raw, int) or not 1 <= raw <= MAX_ID:
        raise ValueError(_("Choose an entry from the list."))
    return raw


TEXT_RULES: dict[str, Callable[[str], Value]] = {
    "title": lambda v: _text(v, 1, 200, _("Enter a title of 1 to 200 characters.")),
    "description": lambda v: _text(v, 0, 10000, _("The description is limited to 10000 characters.")),
    "requester_name": lambda v: _text(v, 1, 200, _("Enter the requester's name (1 to 200 characters).")),
    "requester_email": _email,
    "requester_department": lambda v: _text(v, 0, 200, _("The department is limited to 200 characters.")),
    "priority": lambda v: _choice(v, TICKET_PRIORITIES, _("Unknown priority; use one of: %(choices)s.")),
    "channel": lambda v: _choice(v, TICKET_CHANNELS, _("Unknown channel; use one of: %(choices)s.")),
    "status": lambda v: _choice(v, TICKET_STATUSES, _("Unknown status; use one of: %(choices)s.")),
    "resolution_note": lambda v: _text(v, 0, 10000, _("The resolution note is limited to 10000 characters.")),
}
REFERENCES = ("category_id", "assignee_id")
CREATE_FIELDS = tuple(f for f in TEXT_RULES if f not in ("status", "resolution_note")) + REFERENCES
EDITABLE = tuple(TEXT_RULES) + REFERENCES


def check(
    values: Mapping[str, Any], *, fields: tuple[str, ...], partial: bool = False
) -> tuple[dict[str, Value], dict[str, str]]:
    """The good values and the messages for the bad ones, so a caller can add its own checks."""
    errors: dict[str, str] = {}
    cleaned: dict[str, Value] = {}
    for field in fields:
        present = field in values and values[field] is not None
        if field in REFERENCES:
            if field in values:
                try:
                    cleaned[field] = _reference(values[field])
                except ValueError as exc:
                    errors[field] = str(exc)
            continue
        if not present:
            if not partial and field in REQUIRED:
                errors[field] = _("This field is required.")
            continue
        raw = values[field]
        if not isinstance(raw, str):
            errors[field] = _("Must be text.")
            continue
        try:
            cleaned[field] = TEXT_RULES[field](raw.strip())
        except ValueError as exc:
            errors[field] = str(exc)
    return cleaned, errors


def clean(values: Mapping[str, Any], *, fields: tuple[str, ...], partial: bool = False) -> dict[str, Value]:
    """Checked, stripped values of ``fields`` present in ``values``; InvalidInput lists every bad one.

    Without ``partial`` the required fields must be there (a create); with it only the fields
    present are checked (a PATCH). Unknown keys are ignored: the API's schema refuses them.
    """
    cleaned, errors = check(values, fields=fields, partial=partial)
    if errors:
        raise InvalidInput(errors)
    return cleaned


def comment_body(raw: object) -> str:
    """A reply or note: 1 to 10000 characters after stripping."""
    if not isinstance(raw, str) or not 1 <= len(raw.strip()) <= 10000:
        raise InvalidInput({"body": _("Write a message of 1 to 10000 characters.")})
    return raw.strip()
