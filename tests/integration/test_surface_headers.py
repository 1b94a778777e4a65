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

from veo.config import Settings
from veo.server.app import create_app
from veo.server.auth import service
from veo.server.auth.cookies import cookie_name
from veo.server.web.templating import LANG_COOKIE, TEMPLATES_DIR


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
    # pages may connect to veo only: no scheme-wide source such as ws:/wss: (any host) or *
    assert csp.get("connect-src", [""])[0] == "'self'", where
    assert not {"*", "ws:", "wss:", "http:", "https:"} & set(csp["connect-src"]), where
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


async def _answers(settings: Settings, base_url: str) -> list[httpx.Response]:
    """A page, JSON, a static file and an error of an app with these settings."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client,
    ):
        return [
            await client.get("/login?lang=es", headers={"accept": "text/html"}),
            await client.get("/healthz"),
            await client.get("/static/css/veo.css"),
            await client.get("/no/such/page", headers={"accept": "text/html"}),
        ]


async def test_behind_https_connect_src_names_the_public_socket_and_hsts_is_sent(
    database_url: str, tmp_path: Path
) -> None:
    public = "https://support.example"
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, public_url=public)
    for answer in await _answers(settings, public):
        where = f"{answer.request.url.path} -> {answer.status_code}"
        assert_hardened(answer, where)
        assert _directives(answer.headers["content-security-policy"])["connect-src"] == [
            "'self'",
            "wss://support.example",
        ], where
        assert answer.headers.get("strict-transport-security") == "max-age=31536000", where


async def test_hsts_can_be_left_to_the_proxy_and_is_never_sent_over_plain_http(
    database_url: str, tmp_path: Path
) -> None:
    off = Settings(
        data_dir=tmp_path / "a",
        database_url=database_url,
        public_url="https://support.example",
        hsts_max_age=0,
    )
    plain = Settings(data_dir=tmp_path / "b", database_url=database_url, public_url="http://127.0.0.1:8000")
    for settings in (off, plain):
        for answer in await _answers(settings, settings.public_url):
            assert "strict-transport-security" not in answer.headers
    page = (await _answers(plain, plain.public_url))[0]
    assert _directives(page.headers["content-security-policy"])["connect-src"] == [
        "'self'",
        "ws://127.0.0.1:8000",
    ]


async def test_the_language_cookie_is_secure_behind_https(database_url: str, tmp_path: Path) -> None:
    public = "https://support.example"
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, public_url=public)
    page = (await _answers(settings, public))[0]
    cookie = next(c for c in page.headers.get_list("set-cookie") if c.startswith(f"{LANG_COOKIE}="))
    assert "secure" in [part.strip().lower() for part in cookie.split(";")], cookie


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
