"""Security headers on every answer, and templates that a strict CSP does not have to excuse.

Every GET route (signed in and not), error answers and static files carry the same headers: a
CSP without 'unsafe-inline' or 'unsafe-eval' that forbids framing, ``nosniff``, ``X-Frame-Options``
and ``Referrer-Policy``. The templates are read as text: no inline script, style or event handler
exists that the CSP would have to allow.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi import FastAPI
from tests.integration.test_surface_auth import concrete, endpoints
from tests.support import make_user

from veo.server.auth import service
from veo.server.auth.cookies import cookie_name
from veo.server.web.templating import TEMPLATES_DIR


def _directives(csp: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            found[words[0]] = words[1:]
    return found


def assert_hardened(response: httpx.Response, where: str) -> None:
    headers = response.headers
    csp = _directives(headers.get("content-security-policy", ""))
    assert csp, f"{where}: no Content-Security-Policy"
    for directive in ("default-src", "script-src", "style-src"):
        assert directive in csp, f"{where}: CSP lacks {directive}"
        assert "'unsafe-inline'" not in csp[directive] and "'unsafe-eval'" not in csp[directive], where
        assert "*" not in csp[directive], where
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("base-uri") == ["'none'"], where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("x-frame-options") == "DENY", where
    assert headers.get("referrer-policy") in (
        "no-referrer",
        "same-origin",
        "strict-origin-when-cross-origin",
    ), where


def _sign_in(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = make_user(app.state.db, "tech@example.org").user
    with app.state.db.session() as s:
        token, _session = service.start_web_session(s, user)
    client.cookies.set(cookie_name(app.state.settings), token)


async def test_every_get_route_has_the_headers_signed_in_or_not(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    paths = sorted({concrete(e.path) for e in endpoints(app) if "GET" in e.methods and not e.websocket})
    paths = [p if p != "/static" else "/static/css/veo.css" for p in paths]
    for signed_in in (False, True):
        if signed_in:
            _sign_in(app, client)
        for path in paths:
            response = await client.get(path, headers={"accept": "text/html"})
            assert_hardened(response, f"GET {path} (signed in: {signed_in}) -> {response.status_code}")
    print(f"security headers: {2 * len(paths)} GET answers checked")


async def test_error_answers_have_the_headers(app: FastAPI, client: httpx.AsyncClient) -> None:
    answers = [
        await client.get("/no/such/page", headers={"accept": "text/html"}),
        await client.get("/api/v1/no/such/thing"),
        await client.delete("/healthz"),
        await client.post("/api/v1/auth/token", content=b"{", headers={"content-type": "application/json"}),
        await client.post("/api/v1/tickets", content=b"x" * (1024 * 1024 + 1)),
    ]
    assert [a.status_code for a in answers] == [404, 404, 405, 422, 413]
    for answer in answers:
        assert_hardened(answer, f"{answer.request.method} {answer.request.url.path} -> {answer.status_code}")


INLINE = {
    # A JSON data block (type="application/json") is never executed, so the CSP need not allow it.
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def _pages() -> list[Path]:
    """Templates a browser renders (e-mail bodies under ``mail/`` are not pages)."""
    return sorted(
        p for p in Path(TEMPLATES_DIR).rglob("*.html") if "mail" not in p.relative_to(TEMPLATES_DIR).parts
    )


def test_templates_have_nothing_inline() -> None:
    files = _pages()
    assert len(files) > 5
    problems = [
        f"{path.relative_to(TEMPLATES_DIR)}: {name}"
        for path in files
        for name, pattern in INLINE.items()
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert problems == []


def test_scripts_are_modules_served_from_static() -> None:
    tag = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
    for path in _pages():
        for found in tag.findall(path.read_text(encoding="utf-8")):
            if 'type="application/json"' in found:
                continue
            assert 'type="module"' in found and 'src="/static/' in found, f"{path.name}: {found}"
