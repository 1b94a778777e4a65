"""Every state-changing request that rides on the session cookie needs the session's CSRF token.

The routes come from the app's own table (``tests/route_table.py``), so a route added later is
swept without touching this file. Real rows exist for every id in a path (a ticket, its session,
a category, a pilot, a webhook, an outbox message, a second account), so a route that forgot the
check would really change something. For each POST/PUT/PATCH/DELETE route, API and HTML form
alike:

* the session cookie without the token is refused with 403 ``csrf_failed``, and the database is
  byte for byte what it was (every table, every row) with no attachment file written;
* the same cookie with the token in ``X-CSRF-Token`` (what the console's scripts send) and a
  bearer token without a cookie (no ambient credential to forge) are not refused for CSRF.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from tests.integration.notify_support import bearer, manual_worker
from tests.route_table import UNSAFE_METHODS, Endpoint, endpoints, fill
from tests.support import make_user

from veo.server.auth import service
from veo.server.auth.cookies import cookie_name
from veo.server.auth.models import User
from veo.server.db.models import Base

#: (path template, method) -> why it takes no session cookie (and so no CSRF token).
NO_COOKIE: dict[tuple[str, str], str] = {
    ("/login", "POST"): "signing in: no session yet (its own double-submit check, auth/pages.py)",
    ("/login/totp", "POST"): "second step of signing in: the challenge cookie, checked there",
    ("/api/v1/auth/token", "POST"): "exchanging credentials for a bearer token",
    ("/rate/{token}", "POST"): "the requester's rating, authorized by the unguessable token",
    ("/api/v1/sessions/{session_id}/rating", "POST"): "the agent's rating, token in the body",
    ("/api/v1/enrol", "POST"): "a device's enrolment: no account, a single-use token in the body",
}
ADMIN = "csrf-admin@example.org"


def _unsafe(app: FastAPI) -> list[tuple[Endpoint, str]]:
    found = [
        (endpoint, method)
        for endpoint in endpoints(app)
        if not endpoint.websocket
        for method in sorted(endpoint.methods & UNSAFE_METHODS)
        if (endpoint.path, method) not in NO_COOKIE
    ]
    assert len(found) >= 40, "the sweep does not see the app's write routes"
    return found


async def _objects(app: FastAPI, client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, str]:
    """One real row behind every id a path can name, made through the API with a bearer token."""

    async def post(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await client.post(path, json=body, headers=auth)
        assert response.status_code in (200, 201, 202), f"{path}: {response.status_code} {response.text}"
        answer: dict[str, Any] = response.json()
        return answer

    with app.state.db.session() as s:
        admin_id = s.scalar(select(User.id).where(User.email == ADMIN))
    ticket = await post(
        "/api/v1/tickets", {"title": "CSRF", "requester_name": "Bob", "requester_email": "bob@example.org"}
    )
    session = await post(f"/api/v1/tickets/{ticket['id']}/sessions")
    mail = await post(f"/api/v1/sessions/{session['id']}/email-link")
    category = await post("/api/v1/categories", {"name": "Printers"})
    pilot = await post(
        "/api/v1/reports/pilots",
        {"name": "Floor 2", "starts_on": "2026-01-05", "ends_on": "2026-02-05", "member_ids": [admin_id]},
    )
    hook = await post(
        "/api/v1/webhooks", {"url": "https://hooks.example.org/veo", "events": ["ticket.created"]}
    )
    other = await post(
        "/api/v1/admin/users", {"email": "other@example.org", "name": "Other", "role": "technician"}
    )
    return {
        "ticket_id": str(ticket["id"]),
        "session_id": str(session["id"]),
        "message_id": str(mail["id"]),
        "category_id": str(category["id"]),
        "pilot_id": str(pilot["id"]),
        "webhook_id": str(hook["id"]),
        "user_id": str(other["user"]["id"]),
        "role": "technician",
    }


def _snapshot(app: FastAPI) -> str:
    """Every row of every table, and the attachment files, as one comparable text."""
    rows: dict[str, list[str]] = {}
    with app.state.db.session() as s:
        for table in Base.metadata.sorted_tables:
            rows[table.name] = sorted(json.dumps(list(r), default=str) for r in s.execute(table.select()))
    data_dir: Path = app.state.settings.data_dir
    files = sorted(
        str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file() and p.suffix != ".db"
    )
    return json.dumps({"rows": rows, "files": files}, sort_keys=True)


async def _send(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    """An API route gets a JSON object, a page a form post: the shapes each would accept."""
    if path.startswith("/api/"):
        return await client.request(method, path, json={}, headers=headers)
    return await client.request(method, path, data={"name": "x"}, headers={**headers, "accept": "text/html"})


def _csrf_refused(response: httpx.Response) -> bool:
    if response.status_code != 403:
        return False
    if response.headers.get("content-type", "").startswith("application/json"):
        return bool(response.json().get("code") == "csrf_failed")
    return "did not come from this site" in response.text


async def test_every_cookie_write_needs_the_csrf_token(app: FastAPI, client: httpx.AsyncClient) -> None:
    await manual_worker(app)  # nothing may change the rows while the sweep compares them
    auth = bearer(app, ADMIN, role="admin")
    values = await _objects(app, client, auth)
    with app.state.db.session() as s:
        admin = s.scalars(select(User).where(User.email == ADMIN)).one()
        cookie, web = service.start_web_session(s, admin)
    name = cookie_name(app.state.settings)
    routes = _unsafe(app)

    before = _snapshot(app)
    accepted: list[str] = []
    for endpoint, method in routes:
        path = fill(endpoint.path, values)
        client.cookies.set(name, cookie)
        response = await _send(client, method, path, {})
        if not _csrf_refused(response):
            accepted.append(f"{method} {endpoint.path} -> {response.status_code} {response.text[:100]!r}")
    assert accepted == [], "cookie writes without the CSRF token:\n" + "\n".join(accepted)
    assert _snapshot(app) == before, "a refused request changed the database or wrote a file"

    refused: list[str] = []
    for endpoint, method in routes:
        path = fill(endpoint.path, values)
        with app.state.db.session() as s:  # sign-out routes end sessions and tokens: fresh ones each time
            cookie, web = service.start_web_session(s, s.merge(admin))
            token, _expires = service.issue_api_token(s, s.merge(admin))
        client.cookies.set(name, cookie)
        with_token = await _send(client, method, path, {"x-csrf-token": web.csrf_token})
        client.cookies.clear()
        with_bearer = await _send(client, method, path, {"authorization": f"Bearer {token}"})
        for label, response in (("cookie+token", with_token), ("bearer", with_bearer)):
            if _csrf_refused(response):
                refused.append(f"{method} {endpoint.path} ({label})")
    assert refused == [], "refused for CSRF although the token or a bearer was sent:\n" + "\n".join(refused)
    print(f"csrf sweep: {len(routes)} write routes, each without token, with token and with a bearer")


async def test_an_odd_token_is_refused_not_a_server_error(app: FastAPI, client: httpx.AsyncClient) -> None:
    """A header may carry any Latin-1 text; comparing it must answer 403, not raise."""
    with app.state.db.session() as s:
        user = make_user(app.state.db, "odd@example.org").user
        cookie, _web = service.start_web_session(s, s.merge(user))
    client.cookies.set(cookie_name(app.state.settings), cookie)
    for token in ("é", "\u00ff" * 43, "", "x" * 10_000):
        response = await client.post(
            "/api/v1/tickets", headers=[(b"x-csrf-token", token.encode("latin-1"))], json={}
        )
        assert response.status_code == 403 and response.json()["code"] == "csrf_failed", token[:5]
