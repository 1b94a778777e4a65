"""Server-rendered pages: one Jinja2 environment, text translated into each request's language.

Templates use ``{% trans %}`` and ``_()`` (``jinja2.ext.i18n``, new-style). The environment is
shared by all requests, so the gettext callables it holds look the language up in the
request's context variable (``veo.server.lang``) instead of being re-installed per request,
which would race between concurrent requests.

Language, first match wins: ``?lang=`` (also remembered in a cookie), the signed-in user's
choice, the ``veo_lang`` cookie, the browser's ``Accept-Language``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import HTTPConnection

from veo.config import SUPPORTED_LANGUAGES, Settings
from veo.i18n import accept_language
from veo.server.auth.cookies import cookie_secure
from veo.server.auth.deps import csrf_token_of, identify
from veo.server.lang import _, get_language, ngettext, set_language
from veo.server.web import wording

TEMPLATES_DIR = Path(__file__).parent / "templates"
LANG_COOKIE = "veo_lang"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html", "xml"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.install_gettext_callables(_, ngettext, newstyle=True)  # type: ignore[attr-defined]
templates = Jinja2Templates(env=environment)


def label(code: str | None) -> str:
    """A person-readable, translated name for a stored code (status, who ended, permission)."""
    labels = {
        "new": _("New"),
        "open": _("Open"),
        "waiting": _("Waiting"),
        "resolved": _("Resolved"),
        "closed": _("Closed"),
        "joined": _("Joined"),
        "connecting": _("Connecting"),
        "active": _("Active"),
        "ended": _("Ended"),
        "expired": _("Expired"),
        "technician": _("technician"),
        "user": _("user"),
        "system": _("system"),
        "view": _("view screen"),
        "control": _("control"),
        "clipboard": _("clipboard"),
        "files": _("file transfer"),
    }
    if not code:
        return "—"
    return labels.get(code, code)


environment.globals["label"] = label
#: Codes to sentences for every template (``words.action("ticket.created")``): one table, all pages.
environment.globals["words"] = wording


def language_from_request(connection: HTTPConnection) -> str:
    """The language before the user is known (the user's own choice may override it later)."""
    asked = connection.query_params.get("lang")
    if asked in SUPPORTED_LANGUAGES:
        return asked
    cookie = connection.cookies.get(LANG_COOKIE)
    if cookie in SUPPORTED_LANGUAGES:
        return cookie
    settings: Settings = connection.app.state.settings
    header = connection.headers.get("accept-language")
    return accept_language(header) if header else settings.language


def _with_lang(request: Request, code: str) -> str:
    """This page in another language, as a query-only link (``?next=%2Ftickets&lang=es``).

    The browser resolves it against the page's own address, so it names no host and no path:
    a path that looks like one (``//evil.example/x``, ``/\\evil.example``) can never turn the
    language switch into a link to another site.
    """
    return "?" + request.url.include_query_params(lang=code).query


async def render(
    request: Request, template_name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page with ``user``, ``csrf_token``, ``lang`` and ``organization`` filled in."""
    identity = await identify(request)
    settings: Settings = request.app.state.settings
    asked = request.query_params.get("lang")
    if asked in SUPPORTED_LANGUAGES:
        set_language(asked)
    full: dict[str, Any] = {
        "user": identity.user,
        "csrf_token": await csrf_token_of(request),
        "lang": get_language(),
        "organization": wording.organization(settings.organization),
        "languages": SUPPORTED_LANGUAGES,
        # The language switch keeps the rest of the address (``next`` on the login page, the page).
        "lang_links": {code: _with_lang(request, code) for code in SUPPORTED_LANGUAGES},
        "current_path": request.url.path,
        "source_url": settings.source_url,  # the footer's link (AGPL section 13)
    }
    full.update(context or {})
    response = templates.TemplateResponse(request, template_name, full, status_code=status_code)
    if asked in SUPPORTED_LANGUAGES:
        # Secure wherever the session cookie is, and always behind https: the choice of language
        # says little, but a cookie an active attacker on the network can plant or read says more.
        secure = cookie_secure(settings) or settings.public_url.startswith("https://")
        response.set_cookie(
            LANG_COOKIE, asked, max_age=365 * 86400, samesite="lax", httponly=True, secure=secure
        )
    return response
