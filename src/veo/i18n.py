"""Spanish and English text for every screen, from gettext catalogs under ``veo/locales``.

Shared by the agent (consent dialog, session bar) and the server (pages, e-mails); it needs only
Babel, so the agent stays free of server dependencies. Catalogs are compiled ``.mo`` files shipped
with the package (``make i18n`` regenerates them).
"""

from __future__ import annotations

import gettext
import locale
import os
from functools import cache
from pathlib import Path

from veo.config import SUPPORTED_LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locales"
DOMAIN = "veo"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog for ``language`` (``en`` is the source language and needs none)."""
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language], fallback=True)


def normalize(language: str | None) -> str:
    """Map ``es_ES.UTF-8``, ``es-MX`` or ``ES`` to a supported language code, else English."""
    if not language:
        return "en"
    code = language.replace("-", "_").split("_")[0].split(".")[0].lower()
    return code if code in SUPPORTED_LANGUAGES else "en"


def system_language() -> str:
    """The end user's language from the operating system, as Quick Assist would pick it."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(var)
        if value and value not in ("C", "POSIX"):
            return normalize(value)
    try:
        return normalize(locale.getlocale()[0])
    except ValueError:
        return "en"


def accept_language(header: str | None) -> str:
    """Best supported language from an HTTP ``Accept-Language`` header."""
    if not header:
        return "en"
    weighted: list[tuple[float, str]] = []
    for part in header.split(","):
        pieces = part.strip().split(";q=")
        try:
            weight = float(pieces[1]) if len(pieces) > 1 else 1.0
        except ValueError:
            continue
        weighted.append((weight, pieces[0]))
    for _, lang in sorted(weighted, key=lambda item: -item[0]):
        code = normalize(lang)
        if code != "en" or lang.lower().startswith("en"):
            return code
    return "en"


def gettext_for(language: str) -> gettext.NullTranslations:
    return translations(normalize(language))


def N_(message: str) -> str:
    """Mark ``message`` for extraction where it is defined; translate it later where it is shown."""
    return message
