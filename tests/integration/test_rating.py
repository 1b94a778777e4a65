"""The user's rating of a session: posted by the agent with its token, stored once, bad values refused."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from tests.integration.notify_support import manual_worker, new_ticket
from tests.support import BASE_URL, make_user

from veo.config import Settings
from veo.server.audit.models import AuditEvent
from veo.server.notify import rating
from veo.server.notify.models import RatingRequest
from veo.server.sessions import redeem, service
from veo.server.sessions.models import RemoteSession


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, public_url=BASE_URL, outbox_poll_seconds=3600
    )


def _joined_session(app: FastAPI, *, end: bool = True) -> tuple[str, str]:
    """A session the agent joined (as ``sessions.join`` does: token issued) and, unless told, ended."""
    ticket_id = new_ticket(app)
    technician = make_user(app.state.db, f"ana-{uuid.uuid4().hex[:8]}@example.org").user
    with app.state.db.session() as s:
        created = service.create_session(
            s, ticket_id=ticket_id, technician=technician, permissions=None, ttl_seconds=600
        )
        assert created.code is not None
        code = created.code
    with app.state.db.session() as s:
        joined = redeem.redeem_code(s, code, address="127.0.0.1")
        assert isinstance(joined, RemoteSession)
        token = rating.issue_for_session(s, joined, "es")
        session_id = joined.id
    if end:
        with app.state.db.session() as s:
            service.end_session(s, session_id, by="user", reason="user_stopped", actor="agent")
    return session_id, token


def _stored(app: FastAPI, session_id: str) -> tuple[int | None, str]:
    with app.state.db.session() as s:
        row = s.get(RemoteSession, session_id)
        assert row is not None
        return row.rating, row.rating_comment


def _rated_events(app: FastAPI, session_id: str) -> list[AuditEvent]:
    with app.state.db.session() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(
                    AuditEvent.session_id == session_id, AuditEvent.action == "session.rated"
                )
            )
        )


async def test_rating_is_stored_once_and_audited(app: FastAPI, client: httpx.AsyncClient) -> None:
    await manual_worker(app)
    session_id, token = _joined_session(app)
    url = f"/api/v1/sessions/{session_id}/rating"

    response = await client.post(
        url, json={"token": token, "score": 5, "comment": "  Very patient, thanks!  "}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["score"], body["comment"], body["session_id"]) == (5, "Very patient, thanks!", session_id)
    assert _stored(app, session_id) == (5, "Very patient, thanks!")
    [event] = _rated_events(app, session_id)
    assert event.details == {"score": 5, "comment_length": len("Very patient, thanks!")}

    again = await client.post(url, json={"token": token, "score": 1})
    assert again.status_code == 409 and again.json()["code"] == "already_rated"
    assert _stored(app, session_id) == (5, "Very patient, thanks!")
    assert len(_rated_events(app, session_id)) == 1


async def test_racing_submissions_store_one_rating(app: FastAPI, client: httpx.AsyncClient) -> None:
    await manual_worker(app)
    session_id, token = _joined_session(app)
    url = f"/api/v1/sessions/{session_id}/rating"
    answers = await asyncio.gather(*(client.post(url, json={"token": token, "score": n}) for n in (2, 3, 4)))
    assert sorted(a.status_code for a in answers) == [200, 409, 409]
    assert len(_rated_events(app, session_id)) == 1


@pytest.mark.parametrize(
    ("score", "comment", "message"),
    [
        (0, "", "score: Choose a rating from 1 to 5."),
        (6, "", "score: Choose a rating from 1 to 5."),
        ("great", "", "score: Choose a rating from 1 to 5."),
        (True, "", "score: Choose a rating from 1 to 5."),
        (4.5, "", "score: Choose a rating from 1 to 5."),
        (None, "", "score: Choose a rating from 1 to 5."),
        (4, "x" * 2001, "comment: The comment is limited to 2000 characters."),
        (4, ["not", "text"], "comment: Must be text."),
    ],
)
async def test_bad_values_are_refused_and_nothing_is_stored(
    app: FastAPI, client: httpx.AsyncClient, score: object, comment: object, message: str
) -> None:
    await manual_worker(app)
    session_id, token = _joined_session(app)
    response = await client.post(
        f"/api/v1/sessions/{session_id}/rating", json={"token": token, "score": score, "comment": comment}
    )
    assert response.status_code == 422, response.text
    assert response.json() == {"code": "invalid_request", "message": message}
    assert _stored(app, session_id) == (None, "")
    assert _rated_events(app, session_id) == []
    ok = await client.post(f"/api/v1/sessions/{session_id}/rating", json={"token": token, "score": "3"})
    assert ok.status_code == 200 and _stored(app, session_id) == (3, "")


async def test_wrong_token_wrong_session_or_live_session(app: FastAPI, client: httpx.AsyncClient) -> None:
    await manual_worker(app)
    session_id, _token = _joined_session(app)
    other_id, other_token = _joined_session(app, end=False)

    wrong = await client.post(f"/api/v1/sessions/{session_id}/rating", json={"token": "nope", "score": 4})
    assert wrong.status_code == 404 and wrong.json()["code"] == "not_found"
    crossed = await client.post(
        f"/api/v1/sessions/{session_id}/rating", json={"token": other_token, "score": 4}
    )
    assert crossed.status_code == 404
    live = await client.post(f"/api/v1/sessions/{other_id}/rating", json={"token": other_token, "score": 4})
    assert live.status_code == 409 and live.json()["code"] == "session_not_ended"
    missing = await client.post(f"/api/v1/sessions/{session_id}/rating", json={"score": 4})
    assert missing.status_code == 422 and missing.json()["code"] == "invalid_request"
    assert _stored(app, session_id) == (None, "") and _stored(app, other_id) == (None, "")
    with app.state.db.session() as s:
        requests = s.scalars(select(RatingRequest).where(RatingRequest.rated_at.is_not(None))).all()
    assert requests == []
