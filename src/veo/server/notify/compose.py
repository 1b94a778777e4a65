"""Turn a queued e-mail (template, language, context) into the message sent, with the settings.

Links are stored as paths and completed with ``VEO_PUBLIC_URL`` here, so an e-mail always points
at the address users can reach. Subjects are chosen per template in the message's language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from veo.config import Settings
from veo.i18n import gettext_for, normalize
from veo.server.notify.mailer import Mail, render
from veo.server.web import wording


def _subject(template: str, language: str, context: dict[str, Any]) -> str:
    _ = gettext_for(language).gettext
    number = int(context.get("ticket_id", 0))
    subjects: dict[str, Callable[[], str]] = {
        "ticket_created": lambda: _("We received your request (ticket #%(id)d)") % {"id": number},
        "public_reply": lambda: _("New reply on your ticket #%(id)d") % {"id": number},
        "ticket_resolved": lambda: _("Ticket #%(id)d resolved: how did we do?") % {"id": number},
        "session_link": lambda: f"{_('Remote support')}: {_('Ticket')} #{number}",
    }
    return subjects[template]()


def compose(settings: Settings, payload: dict[str, Any]) -> Mail:
    """The e-mail a stored outbox payload stands for."""
    template = str(payload["template"])
    language = normalize(payload.get("language") or settings.language)
    context: dict[str, Any] = dict(payload.get("context") or {})
    for key in ("rating_path", "join_path"):
        if key in context:
            context[key.replace("_path", "_url")] = settings.public_url + str(context.pop(key))
    context.setdefault("organization", wording.organization(settings.organization, language))
    return render(template, _subject(template, language, context), language, context)
