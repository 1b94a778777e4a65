"""A NUL (or another control character) in text is a 422, never a 5xx, on PostgreSQL too.

PostgreSQL cannot hold a NUL in text: psycopg refused such a value with ``DataError`` before the
query ran, and the probe's schemathesis run (once ``test_schemathesis_api.py`` stopped dropping
cases whose request raised) found it in the sign-in e-mail of ``/api/v1/auth/token``, a new
category's name and the audit filters (API and page).
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from tests.integration.notify_support import bearer
from tests.support import api_token, make_user, ticket_body

ODD = ("a\x00b", "\x00", "x\x1by", "\x7f")


@pytest.mark.parametrize("text", ODD)
async def test_control_characters_are_refused_cleanly(
    app: FastAPI, client: httpx.AsyncClient, text: str
) -> None:
    make_user(app.state.db, "lead@example.org", role="lead")
    lead = await api_token(client, "lead@example.org")
    admin = bearer(app, "admin@example.org", role="admin")

    token = await client.post(
        "/api/v1/auth/token", json={"email": f"lead{text}@example.org", "password": "x"}
    )
    assert token.status_code == 422, token.text
    totp = await client.post(
        "/api/v1/auth/token", json={"email": "lead@example.org", "password": "x", "totp": text}
    )
    assert totp.status_code == 422, totp.text

    category = await client.post("/api/v1/categories", json={"name": f"Printers{text}"}, headers=lead)
    assert category.status_code == 422 and "cannot be stored" in category.json()["message"]
    assert (await client.get("/api/v1/categories", headers=lead)).json() == []

    for name in ("action", "actor", "session_id"):
        found = await client.get("/api/v1/audit", params={name: text}, headers=lead)
        assert found.status_code == 422, (name, found.text)
    for name in ("action", "actor", "session"):
        for page in ("/audit", "/audit.csv"):
            shown = await client.get(page, params={name: text}, headers=admin)
            assert shown.status_code == 422, (page, name, shown.status_code)


async def test_a_nul_anywhere_else_is_no_server_error(app: FastAPI, client: httpx.AsyncClient) -> None:
    """The safety net for text no schema guards yet: the database's refusal (PostgreSQL's
    ``DataError``) is the client's 422, on every route; SQLite simply stores the character."""
    make_user(app.state.db, "lead@example.org", role="lead")
    lead = await api_token(client, "lead@example.org")
    calls: list[tuple[str, str, dict[str, object]]] = [
        ("GET", "/api/v1/tickets", {"params": {"q": "a\x00b"}}),
        ("POST", "/api/v1/tickets", {"json": ticket_body(title="a\x00b")}),
        ("POST", "/api/v1/tickets", {"json": ticket_body(requester_email="a\x00b@example.org")}),
        ("POST", "/login", {"data": {"email": "a\x00b@example.org", "password": "x"}}),
    ]
    for method, path, extra in calls:
        response = await client.request(method, path, headers=lead, **extra)  # type: ignore[arg-type]
        assert response.status_code < 500, (method, path, response.status_code)
        if response.status_code == 422 and path.startswith("/api/"):
            assert response.json()["code"] == "invalid_request", response.text
