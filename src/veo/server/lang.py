"""The language of the request being served, for text produced outside templates.

Services and error handlers call :func:`_` without a request at hand; the language is carried in
a context variable that the app sets per request (and that the CLI leaves at the default), so the
same service code speaks Spanish to a Spanish browser and English to an English terminal.
"""

from __future__ import annotations

from contextvars import ContextVar

from veo.i18n import gettext_for, normalize

_language: ContextVar[str] = ContextVar("veo_language", default="en")


def set_language(language: str) -> str:
    """Use ``language`` (normalized to a supported code) for the rest of this request."""
    code = normalize(language)
    _language.set(code)
    return code


def get_language() -> str:
    return _language.get()


def _(message: str) -> str:
    """Translate ``message`` into the current request's language."""
    return gettext_for(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext_for(_language.get()).ngettext(singular, plural, n)
