"""Chat transcript and system information attached to the ticket (real app, SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from tests.support import api_token, login, make_user, ticket_body

from veo.server.audit.models import AuditEvent
from veo.server.db.base import utcnow
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import TicketComment

HOST = socket.gethostname()


async def _session(
    app: FastAPI, client: httpx.AsyncClient, *, allowed: bool = True
) -> tuple[str, dict[str, str], int, str]:
    """The technician signed in (form and API token), a ticket and a session on it; ``allowed``: a
    session the user joined and allowed. Returns the CSRF token, API headers, ticket and session ids."""
    make_user(app.state.db)
    csrf = await login(client, "tech@example.org")
    auth = await api_token(client, "tech@example.org")
    ticket = await client.post("/api/v1/tickets", json=ticket_body(), headers=auth)
    assert ticket.status_code == 201, ticket.text
    ticket_id: int = ticket.json()["id"]
    created = await client.post(f"/api/v1/tickets/{ticket_id}/sessions", headers=auth)
    assert created.status_code == 201, created.text
    session_id = str(created.json()["id"])
    if allowed:
        _set_status(app, session_id, "active")
    return csrf, auth, ticket_id, session_id


def _set_status(app: FastAPI, session_id: str, status: str) -> None:
    """Stands in for the agent's join (``joined``) and the user's Allow (``active``)."""
    with app.state.db.session() as s:
        row = s.get(RemoteSession, session_id)
        assert row is not None
        row.status, row.code = status, None
        row.joined_at = utcnow()
        if status == "active":
            row.started_at = utcnow()


def _comments(app: FastAPI, ticket_id: int) -> list[TicketComment]:
    with app.state.db.session() as s:
        rows = s.scalars(
            select(TicketComment).where(TicketComment.ticket_id == ticket_id).order_by(TicketComment.id)
        )
        return list(rows)


def _events(app: FastAPI, session_id: str, action: str) -> list[dict[str, Any]]:
    with app.state.db.session() as s:
        stmt = select(AuditEvent.details).where(
            AuditEvent.session_id == session_id, AuditEvent.action == action
        )
        return list(s.scalars(stmt))


def _lines(n: int) -> str:
    speakers = ["technician", "user"]
    return json.dumps(
        [
            {
                "id": f"m{i}",
                "from": speakers[i % 2],
                "text": f"line {i} <b>",
                "at": f"2026-11-25T12:00:0{i % 10}Z",
            }
            for i in range(n)
        ]
    )


async def test_transcript_is_one_internal_comment_replaced_by_longer_posts(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    csrf, _, ticket_id, session_id = await _session(app, client)
    url = f"/api/v1/sessions/{session_id}/chat-transcript"

    first = await client.post(url, data={"csrf_token": csrf, "transcript": _lines(2)})
    assert first.status_code == 200, first.text
    assert first.json()["lines"] == 2 and first.json()["replaced"] is False
    (comment,) = _comments(app, ticket_id)
    assert not comment.public
    assert comment.body.splitlines() == [
        f"Chat of remote session {session_id} (2 messages, times in UTC), sent by the technician's console:",
        "[12:00:00] Ana Tech: line 0 <b>",
        "[12:00:01] User: line 1 <b>",
    ]

    longer = await client.post(url, data={"csrf_token": csrf, "transcript": _lines(3)})
    assert longer.json() == {"comment_id": comment.id, "lines": 3, "replaced": True}
    shorter = await client.post(url, data={"csrf_token": csrf, "transcript": _lines(1)})  # a reloaded console
    assert shorter.json() == {"comment_id": comment.id, "lines": 3, "replaced": False}
    (comment,) = _comments(app, ticket_id)
    assert len(comment.body.splitlines()) == 4
    assert [e["lines"] for e in _events(app, session_id, "session.chat_attached")] == [2, 3]

    page = await client.get(f"/tickets/{ticket_id}")
    assert "line 2 &lt;b&gt;" in page.text  # shown on the ticket, escaped


async def test_sysinfo_is_attached_as_readable_text(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf, _, ticket_id, session_id = await _session(app, client)
    info = {
        "hostname": HOST,
        "os": {"name": "Debian GNU/Linux 12", "release": "6.1", "version": "#1", "machine": "x86_64"},
        "memory": {"total": 8_000_000_000, "available": 4_000_000_000, "percent": 50.0, "swap_total": 0},
        "programs": [{"name": "git", "found": True, "version": "git version 2.39.5"}],
    }
    response = await client.post(
        f"/api/v1/sessions/{session_id}/sysinfo", data={"csrf_token": csrf, "info": json.dumps(info)}
    )
    assert response.status_code == 200, response.text
    (comment,) = _comments(app, ticket_id)
    assert not comment.public
    assert f"Computer name: {HOST}" in comment.body
    assert "Memory: 8 GB in total, 4 GB available (50.0% used)" in comment.body
    assert "git: git version 2.39.5" in comment.body
    (details,) = _events(app, session_id, "session.sysinfo_attached")
    assert details["comment_id"] == comment.id and "hostname" in details["fields"]


async def test_bad_posts_get_clear_errors_and_store_nothing(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf, auth, ticket_id, session_id = await _session(app, client)
    make_user(app.state.db, "other@example.org", name="Otto")
    chat = f"/api/v1/sessions/{session_id}/chat-transcript"
    info = f"/api/v1/sessions/{session_id}/sysinfo"
    cases: list[tuple[str, dict[str, str], int, str]] = [
        (chat, {"transcript": "not json"}, 422, "transcript_invalid"),
        (chat, {"transcript": "{}"}, 422, "transcript_invalid"),
        (chat, {"transcript": "[]"}, 422, "transcript_empty"),
        (
            chat,
            {"transcript": json.dumps([{"id": "x y", "from": "user", "text": "a"}])},
            422,
            "transcript_invalid",
        ),
        (
            chat,
            {"transcript": json.dumps([{"id": "x", "from": "admin", "text": "a"}])},
            422,
            "transcript_invalid",
        ),
        (
            chat,
            {"transcript": json.dumps([{"id": "x", "from": "user", "text": ""}])},
            422,
            "transcript_invalid",
        ),
        (
            chat,
            {"transcript": json.dumps([{"id": "x", "from": "user", "text": "a" * 4001}])},
            422,
            "transcript_invalid",
        ),
        (
            chat,
            {"transcript": json.dumps([{"id": "x", "from": "user", "text": "a", "at": 5}])},
            422,
            "transcript_invalid",
        ),
        (chat, {"transcript": _lines(1001)}, 422, "transcript_too_large"),
        (chat, {}, 422, "invalid_request"),
        (info, {"info": "[1]"}, 422, "sysinfo_invalid"),
        (info, {"info": "{}"}, 422, "sysinfo_invalid"),
        (info, {"info": "nope"}, 422, "sysinfo_invalid"),
        (info, {"info": json.dumps({"network": [{"name": "x", "addresses": 5}], "disks": "x"})}, 200, ""),
        (info, {"info": json.dumps({"x": "y" * 140_000})}, 422, "invalid_request"),
    ]
    for url, data, status, code in cases:
        response = await client.post(url, data={"csrf_token": csrf, **data})
        assert response.status_code == status, (data, response.text)
        if code:
            assert response.json()["code"] == code and response.json()["message"], data
    assert len(_comments(app, ticket_id)) == 1  # only the odd-but-readable sysinfo

    no_csrf = await client.post(chat, data={"transcript": _lines(1)})
    assert no_csrf.status_code == 403 and no_csrf.json()["code"] == "csrf_failed"
    other = await api_token(client, "other@example.org")
    foreign = await client.post(chat, data={"transcript": _lines(1)}, headers=other)
    assert foreign.status_code == 404 and foreign.json()["code"] == "session_not_found"
    missing = await client.post("/api/v1/sessions/nope/sysinfo", data={"info": '{"a": 1}'}, headers=auth)
    assert missing.status_code == 404
    bearer = await client.post(chat, data={"transcript": _lines(1)}, headers=auth)  # no ambient credential
    assert bearer.status_code == 200


async def test_nothing_is_attached_to_a_session_the_user_never_allowed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Chat lines "from the user" and "their" system information need a session the user allowed:
    before the fix a technician could attach both to a session nobody ever joined."""
    csrf, _, ticket_id, session_id = await _session(app, client, allowed=False)
    posts = {
        f"/api/v1/sessions/{session_id}/chat-transcript": {"transcript": _lines(2)},
        f"/api/v1/sessions/{session_id}/sysinfo": {"info": json.dumps({"hostname": "made-up"})},
    }
    for status in ("waiting", "joined", "ended"):  # never joined; joined, no Allow; ended before Allow
        if status != "waiting":
            _set_status(app, session_id, status)
        for url, data in posts.items():
            response = await client.post(url, data={"csrf_token": csrf, **data})
            assert response.status_code == 409, (status, url, response.text)
            assert response.json() == {
                "code": "session_not_consented",
                "message": "The user never allowed this session, so it has no chat or system "
                "information from them to attach to the ticket.",
            }
    assert _comments(app, ticket_id) == []
    assert _events(app, session_id, "session.chat_attached") == []
    assert _events(app, session_id, "session.sysinfo_attached") == []


async def test_what_the_console_attaches_is_labelled_as_sent_by_the_console(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    csrf, _, ticket_id, session_id = await _session(app, client)
    _set_status(app, session_id, "ended")  # ended after Allow: started_at stays, the transcript is taken
    for url, data in {
        f"/api/v1/sessions/{session_id}/chat-transcript": {"transcript": _lines(2)},
        f"/api/v1/sessions/{session_id}/sysinfo": {"info": json.dumps({"hostname": HOST})},
    }.items():
        response = await client.post(url, data={"csrf_token": csrf, **data})
        assert response.status_code == 200, response.text
    chat, info = _comments(app, ticket_id)
    assert chat.origin == info.origin == "technician_console"
    assert chat.body.splitlines()[0].endswith("sent by the technician's console:")
    assert info.body.splitlines()[0].startswith(
        f"System information of remote session {session_id}, sent by the technician's console"
    )
    (chat_event,) = _events(app, session_id, "session.chat_attached")
    (info_event,) = _events(app, session_id, "session.sysinfo_attached")
    assert chat_event["origin"] == info_event["origin"] == "technician_console"
    note = await client.post(
        f"/tickets/{ticket_id}/comments", data={"csrf_token": csrf, "body": "Called back."}
    )
    assert note.status_code == 303 and len(_comments(app, ticket_id)) == 3

    page = (await client.get(f"/tickets/{ticket_id}")).text
    assert page.count(">Sent by the technician's console</span>") == 2  # the two attached, not the note
    assert "sent by the user" not in page.lower()


async def test_deeply_nested_attachments_are_refused_not_a_server_error(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    csrf, _, ticket_id, session_id = await _session(app, client)
    chat = await client.post(
        f"/api/v1/sessions/{session_id}/chat-transcript",
        data={"csrf_token": csrf, "transcript": "[" * 100_000},
    )
    info = await client.post(
        f"/api/v1/sessions/{session_id}/sysinfo", data={"csrf_token": csrf, "info": '{"a":' * 20_000}
    )
    assert (chat.status_code, chat.json()["code"]) == (422, "transcript_invalid")
    assert (info.status_code, info.json()["code"]) == (422, "sysinfo_invalid")
    assert _comments(app, ticket_id) == []
