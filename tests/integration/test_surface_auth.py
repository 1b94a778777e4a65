"""Every route needs a signed-in user unless it is on the allow list, whatever the spelling.

The routes come from the app itself (``app.routes``, included routers expanded), so a route
added later is covered without touching this file. Each path is requested without credentials
with every method, as written, with its trailing slash toggled, with a letter percent-encoded
(``/api/v1/%74ickets``) and with a doubled leading slash (``//tickets``). A closed door is 401,
403, 404, 405 or a redirect to the sign-in page; anything else (a 2xx, a 422 that validated the
input before asking who is there, a 5xx) fails and names the request.
"""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from tests.route_table import endpoints
from tests.support import BASE_URL

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SAMPLE_UUID = "0f3c2a9e-1111-4222-8333-444455556666"

#: (path template, method) -> why it may answer a stranger.
ALLOW: dict[tuple[str, str], str] = {
    ("/login", "GET"): "the sign-in form",
    ("/login", "POST"): "signing in",
    ("/login/totp", "GET"): "second step of signing in (needs the first step's challenge cookie)",
    ("/login/totp", "POST"): "second step of signing in",
    ("/join", "GET"): "the user's join page (they have a code, not an account)",
    ("/download", "GET"): "the veo app for the user's system (public like the join page; no code looked up)",
    ("/download/{platform}", "GET"): "the app configured for this server (a code checked for its shape only)",
    ("/healthz", "GET"): "liveness probe, says only 'ok'",
    ("/readyz", "GET"): "readiness probe, names failed parts only",
    ("/api/v1/openapi.json", "GET"): "the API's schema",
    ("/api/v1/openapi.json", "HEAD"): "the API's schema",
    ("/api/v1/protocol.json", "GET"): "the wire contract for the console",
    ("/api/v1/auth/token", "POST"): "exchanging credentials for a token",
    ("/rate/{token}", "GET"): "the user's rating page, authorized by the unguessable token",
    ("/rate/{token}", "POST"): "the user's rating, authorized by the unguessable token",
    ("/api/v1/sessions/{session_id}/rating", "POST"): "the agent's rating, authorized by a token in the body",
    ("/api/v1/enrol", "POST"): "a device's enrolment, authorized by a single-use token in the body",
}
#: Mounts and WebSockets that are open by design.
ALLOW_PREFIXES = {"/static": "stylesheets and the console's scripts"}
ALLOW_WEBSOCKETS = {"/ws/agent": "the agent joins with a code; its first message must be a valid join"}
#: Token-authorized routes must still refuse a wrong token.
TOKEN_ROUTES = {"/rate/{token}", "/api/v1/sessions/{session_id}/rating", "/api/v1/enrol"}


def concrete(template: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return SAMPLE_UUID if name == "session_id" else ("admin" if name == "role" else "1")

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, template)


def variants(path: str) -> list[str]:
    """The path, and spellings a sloppy router or proxy might treat as another resource."""
    found = [path]
    found.append(path[:-1] if path.endswith("/") and path != "/" else path + "/")
    letter = re.search(r"[a-z]", path)
    if letter is not None:
        i = letter.start()
        found.append(path[:i] + f"%{ord(path[i]):02X}" + path[i + 1 :])
        found.append(path[:i] + f"%{ord(path[i]):02x}" + path[i + 1 :])
    found.append("/" + path)
    return found


def closed(response: httpx.Response) -> bool:
    if response.status_code in (401, 403, 404, 405):
        return True
    if response.status_code in (301, 302, 303, 307, 308):
        location: str = response.headers.get("location", "")
        return location.startswith(("/login", f"{BASE_URL}/login"))
    return False


async def request(client: httpx.AsyncClient, method: str, raw_path: str) -> httpx.Response:
    """Send ``raw_path`` byte for byte (no client-side normalisation), following same-site
    redirects (e.g. a trailing-slash redirect) until an answer or the sign-in page."""
    url = httpx.URL(BASE_URL).copy_with(raw_path=raw_path.encode())
    for _hop in range(4):
        response = await client.request(method, url, headers={"accept": "text/html"})
        location = response.headers.get("location", "")
        if response.status_code in (301, 302, 303, 307, 308) and not location.startswith(
            ("/login", f"{BASE_URL}/login")
        ):
            url = httpx.URL(BASE_URL).join(location)
            continue
        return response
    raise AssertionError(f"{method} {raw_path}: redirect loop")


def test_the_enumeration_sees_the_whole_app(app: FastAPI) -> None:
    paths = {e.path for e in endpoints(app)}
    for expected in (
        "/tickets",
        "/api/v1/tickets/{ticket_id}",
        "/audit",
        "/ws/console",
        "/ws/agent",
        "/static",
    ):
        assert expected in paths
    stale = {path for path, _m in ALLOW} - paths
    assert not stale, f"allow list names routes that no longer exist: {stale}"


async def open_doors(
    app: FastAPI, client: httpx.AsyncClient, only: str | None = None
) -> tuple[list[str], int]:
    """Every (method, spelling) of every non-allowed route that answers a stranger; with ``only``,
    of the routes of that path alone (the whole app is several thousand requests)."""
    found: list[str] = []
    checked = 0
    for endpoint in endpoints(app):
        if endpoint.websocket or endpoint.path in ALLOW_PREFIXES:
            continue
        if only is not None and endpoint.path != only:
            continue
        for method in METHODS:
            if (endpoint.path, method) in ALLOW:
                continue
            for raw in variants(concrete(endpoint.path)):
                response = await request(client, method, raw)
                checked += 1
                if not closed(response):
                    found.append(f"{method} {raw} -> {response.status_code} {response.text[:120]!r}")
    return found, checked


async def test_no_route_answers_a_stranger_unless_allowed(app: FastAPI, client: httpx.AsyncClient) -> None:
    found, checked = await open_doors(app, client)
    print(f"route enumeration: {checked} unauthenticated requests checked")
    assert checked > 500
    assert found == []


async def test_the_check_catches_an_open_route(app: FastAPI, client: httpx.AsyncClient) -> None:
    """The test itself works: a route someone forgot to protect is reported in every spelling.

    Only that route is walked: the whole app is the test above (about two minutes a database on
    the 2-core CI machine), and the enumeration that finds the route is the same."""

    async def forgotten() -> dict[str, str]:
        return {"secret": "yes"}

    app.add_api_route("/api/v1/forgotten", forgotten, methods=["GET"])
    found, checked = await open_doors(app, client, only="/api/v1/forgotten")
    assert checked == len(METHODS) * len(variants("/api/v1/forgotten"))
    assert [line.split(" -> ")[0] for line in found] == [
        "GET /api/v1/forgotten",
        "GET /api/v1/forgotten/",
        "GET /%61pi/v1/forgotten",
        "GET /%61pi/v1/forgotten",
    ]  # "//api/v1/forgotten" matches no route at all (404), so it is closed


async def test_token_routes_refuse_a_wrong_token(app: FastAPI, client: httpx.AsyncClient) -> None:
    wrong = "x" * 43
    page = await client.get(f"/rate/{wrong}")
    assert page.status_code in (403, 404, 410)
    posted = await client.post(f"/rate/{wrong}", data={"score": "5"})
    assert posted.status_code in (403, 404, 410, 422)
    api = await client.post(
        f"/api/v1/sessions/{SAMPLE_UUID}/rating", json={"token": wrong, "score": 5, "comment": ""}
    )
    assert api.status_code in (403, 404, 410, 422)
    enrol = await client.post(
        "/api/v1/enrol", json={"token": "veo-enrol-" + "a" * 32, "public_key": "A" * 43, "name": "pc"}
    )
    assert (enrol.status_code, enrol.json()["code"]) == (403, "token_unknown")


#: Each would reach a real file next to the static folder (templates, the app's source).
TRAVERSALS = [
    "/static/../templates/base.html",
    "/static/%2e%2e/templates/base.html",
    "/static/%2E%2E/%2E%2E/app.py",
    "/static/..%2ftemplates/base.html",
    "/static/%2e%2e%2ftemplates%2fbase.html",
    "/static/css/../../templates/base.html",
    "/static/css/..%5c..%5ctemplates%5cbase.html",
    "/static//etc/passwd",
]


@pytest.mark.parametrize("raw", TRAVERSALS)
async def test_static_files_never_leave_their_folder(
    app: FastAPI, client: httpx.AsyncClient, raw: str
) -> None:
    from veo.server.app import STATIC_DIR

    assert (STATIC_DIR.parent / "templates" / "base.html").is_file()  # the target is real
    url = httpx.URL(BASE_URL).copy_with(raw_path=raw.encode())
    response = await client.get(url)
    assert response.status_code in (400, 404), (raw, response.status_code)
    assert b"{% block" not in response.content and b"create_app" not in response.content
    assert b"root:" not in response.content


async def test_admin_routes_refuse_a_technician(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Every ``/admin/...`` and ``/api/v1/admin/...`` route, every method, cookie (with a valid
    CSRF token) and bearer alike: a signed-in technician is refused, never served."""
    from tests.support import make_user

    from veo.server.auth import service
    from veo.server.auth.cookies import cookie_name

    tech = make_user(app.state.db, "tech@example.org").user
    with app.state.db.session() as s:
        cookie, web = service.start_web_session(s, tech)
        token, _expires = service.issue_api_token(s, tech)
    client.cookies.set(cookie_name(app.state.settings), cookie)
    headers = {"x-csrf-token": web.csrf_token, "authorization": f"Bearer {token}", "accept": "text/html"}
    served: list[str] = []
    checked = 0
    for endpoint in endpoints(app):
        if not endpoint.path.startswith(("/admin/", "/api/v1/admin/")) and endpoint.path not in (
            "/audit",
            "/audit.csv",
        ):
            continue
        for method in endpoint.methods:
            path = concrete(endpoint.path)
            for auth in ("cookie", "bearer"):
                sent = {k: v for k, v in headers.items() if (k != "authorization") == (auth == "cookie")}
                response = await client.request(method, path, headers=sent, json={})
                checked += 1
                if response.status_code not in (403, 404, 405):
                    served.append(f"{method} {path} ({auth}) -> {response.status_code}")
    assert checked >= 10
    assert served == []
