"""How big something is, in words: ``1 byte``, ``512 bytes``, ``1.5 kB`` / ``1,5 kB``, ``15.6 GB``.

One rule for every size a person reads (the agent's file windows and system information, the
ticket's attachments): powers of 1000 as file managers show them, the reader's decimal mark and
unit names from Babel, plural forms of "byte" from the catalog. It needs only Babel and gettext,
so the agent stays free of server dependencies.
"""

from __future__ import annotations

from babel import Locale
from babel.numbers import format_decimal
from babel.units import format_unit

from veo.durations import PluralCatalog

_UNITS = (
    ("digital-terabyte", 1e12),
    ("digital-gigabyte", 1e9),
    ("digital-megabyte", 1e6),
    ("digital-kilobyte", 1e3),
)


def size_text(size: float, catalog: PluralCatalog, locale: Locale | str) -> str:
    """``size`` bytes in the catalog's language; one decimal above a kilobyte, none below."""
    size = max(0, size)
    if size < 1000:
        count = int(size)
        return catalog.ngettext("{count} byte", "{count} bytes", count).format(
            count=format_decimal(count, locale=locale)
        )
    for unit, scale in _UNITS:
        if size >= scale:
            return format_unit(round(size / scale, 1), unit, length="short", locale=locale)
    raise AssertionError("unreachable: sizes below 1000 returned above")  # pragma: no cover
