"""Factories and helpers for server tests: accounts, signing in, form tokens, tickets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from veo.config import Settings

if TYPE_CHECKING:  # the server is imported lazily, see tests/conftest.py
    from fastapi import FastAPI

    from veo.server.auth.models import User
    from veo.server.db.engine import Database

#: A test on SQLite alone, for a behaviour that is the app's own logic (validation, permissions,
#: limits kept in memory, the wire format): the little SQL it runs is the same insert or lookup that
#: the tests left on both databases run already, so its PostgreSQL case repeated only the app's
#: start-up (a second app with every route's validators built again, about a second each in CI).
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BASE_URL = "http://127.0.0.1:8000"
PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass(frozen=True)
class Account:
    user: User
    password: str


def app_settings(database_url: str, tmp_path: Path, **changes: Any) -> Settings:
    """The settings of the tests' app (conftest's ``settings``), with ``changes`` for one test module."""
    return Settings(data_dir=tmp_path / "data", database_url=database_url, public_url=BASE_URL, **changes)


def make_user(
    db: Database,
    email: str = "tech@example.org",
    *,
    name: str = "Ana Tech",
    role: str = "technician",
    password: str = PASSWORD,
    must_change_password: bool = False,
) -> Account:
    from veo.server.auth import service

    with db.session() as s:
        user = service.create_user(
            s, email, name=name, role=role, password=password, must_change_password=must_change_password
        )
    return Account(user=user, password=password)


def enrol_totp(db: Database, email: str) -> str:
    """Enrol the account directly, one step in the past, so the current code is still unused;
    returns the secret."""
    import pyotp

    from veo.server.auth import service, totp
    from veo.server.db.base import utcnow

    with db.session() as s:
        user = service.get_by_email(s, email)
        assert user is not None
        secret = totp.start_enrolment(s, user).secret
        earlier = utcnow() - timedelta(seconds=30)
        assert totp.confirm_enrolment(s, user, pyotp.TOTP(secret).at(earlier), now=earlier) is not None
    return secret


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match is not None and match.group(1), "the page has no CSRF field"
    return match.group(1)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token for later posts."""
    response = await client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 303, response.text
    page = await client.get("/tickets/new")
    assert page.status_code == 200, page.text
    return csrf_from(page.text)


async def signed_in(app: FastAPI, client: httpx.AsyncClient, email: str = "tech@example.org") -> str:
    """Create a technician and sign the client in as them; returns the CSRF token."""
    make_user(app.state.db, email)
    return await login(client, email)


async def api_token(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def ticket_body(**overrides: str) -> dict[str, str]:
    body = {
        "title": "Printer does not print",
        "description": "Since Monday.",
        "requester_name": "Bob User",
        "requester_email": "bob@example.org",
    }
    body.update(overrides)
    return body
