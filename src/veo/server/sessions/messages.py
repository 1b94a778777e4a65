"""People-readable words for every error code the session routes and the hub send.

Codes are stable for programs; the text is translated into the language of the connection
(``veo.server.lang`` holds it per request or WebSocket).
"""

from __future__ import annotations

from collections.abc import Iterable

from veo.protocol.permissions import Permission, ordered
from veo.server.lang import _


def error_text(code: str, detail: str = "") -> str:
    """The message for ``code``; ``detail`` (already safe to show) is appended where it helps."""
    texts = {
        "too_large": _("The message is too large."),
        "malformed_json": _("The message is not valid JSON."),
        "too_deep": _("The message nests lists and objects too deeply."),
        "unsupported_version": _("This protocol version is not supported; update the program."),
        "unknown_type": _("Unknown message type."),
        "invalid_message": _("The message is not valid."),
        "out_of_order": _("This message is not expected at this step of the session."),
        "join_required": _("The first message must be a join with the code."),
        "join_timeout": _("No code was received in time."),
        "code_unknown": _("This code is not valid. Check the digits and try again."),
        "code_expired": _("This code has expired. Ask the technician for a new one."),
        "code_used": _("This code was already used. Ask the technician for a new one."),
        "rate_limited": _("Too many wrong codes. Wait a few minutes and try again."),
        "too_many_joins": _("Too many joins at the same time from this network. Try again in a few seconds."),
        "session_ended": _("This session has ended."),
        "rejoin_refused": _("This session cannot be continued from here. Ask the technician for a new code."),
        "resume_rate_limited": _("Too many attempts to reconnect in a short time. Wait a moment."),
        "session_not_found": _("This session does not exist."),
        "ticket_not_found": _("This ticket does not exist."),
        "invalid_permission": _("Unknown permission."),
        "no_permission": _("Choose at least one permission."),
        "permission_needs_view": _("Control, clipboard and files need the view permission too."),
        "beyond_policy": _("Your role's policy does not allow requesting this permission."),
        "permission_browser_share": _(
            "The user shares their screen from the browser, which can only show it. For control, "
            "the clipboard or files, the user needs the veo app (they can install it from their page)."
        ),
        "permission_already_granted": _("The user has already allowed this."),
        "permission_pending": _("The user has not answered your previous request yet."),
        "permission_not_asked": _("No question is waiting for this answer."),
        "note_empty": _("Write a resolution note."),
        "note_too_long": _("The note is too long (10,000 characters at most)."),
        "not_authenticated": _("Sign in first."),
        "forbidden": _("Only the session's technician or an administrator may do this."),
        "server_error": _("The server could not complete this step. Try again."),
        "server_unavailable": _("The server cannot check codes right now. Try again in a moment."),
    }
    text = texts.get(code, _("The request could not be completed."))
    return f"{text} ({detail})" if detail else text


def permission_names(permissions: Iterable[Permission | str]) -> str:
    """Permissions as people read them, in the connection's language ("Control mouse and keyboard")."""
    names = {
        Permission.VIEW: _("View screen"),
        Permission.CONTROL: _("Control mouse and keyboard"),
        Permission.CLIPBOARD: _("Clipboard"),
        Permission.FILES: _("File transfer"),
    }
    return ", ".join(names[p] for p in ordered(permissions))
