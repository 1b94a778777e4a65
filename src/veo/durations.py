"""How long something took, in words: ``18 seconds``, ``1 minute and 5 seconds``, ``2 hours and 5 minutes``.

Shared by the agent (session history, end notice) and anything else that shows a duration to a
person; it needs only gettext and Babel, so the agent stays free of server dependencies. Plural
forms come from the catalog (``ngettext``), the joining word from Babel's list patterns, so
Spanish reads ``1 minuto y 5 segundos``. Exact to the second below an hour, to the minute above.
"""

from __future__ import annotations

from typing import Protocol

from babel import Locale
from babel.lists import format_list


class PluralCatalog(Protocol):
    def ngettext(self, singular: str, plural: str, n: int, /) -> str: ...


def duration_text(seconds: float, catalog: PluralCatalog, locale: Locale | str) -> str:
    """Whole seconds as words in the catalog's language (a negative or fractional value is cut down)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts: list[str] = []
    if hours:
        parts.append(catalog.ngettext("{count} hour", "{count} hours", hours).format(count=hours))
    if minutes:
        parts.append(catalog.ngettext("{count} minute", "{count} minutes", minutes).format(count=minutes))
    if not hours and (secs or not minutes):
        parts.append(catalog.ngettext("{count} second", "{count} seconds", secs).format(count=secs))
    return format_list(parts, locale=locale)
