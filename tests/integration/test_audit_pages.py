"""The audit page, its CSV and ``GET /api/v1/audit``: filters, paging, and who may read what."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update
from tests.support import make_user

from veo.server.audit.models import AuditEvent
from veo.server.audit.service import record
from veo.server.auth import service
from veo.server.auth.cookies import cookie_name


def _browser(app: FastAPI, client: httpx.AsyncClient, email: str, role: str = "technician") -> None:
    """Signed in as a new account of ``role`` (sign-in itself, TOTP included, is tested elsewhere)."""
    user = make_user(app.state.db, email, role=role).user
    with app.state.db.session() as s:
        token, _session = service.start_web_session(s, user)
    client.cookies.set(cookie_name(app.state.settings), token)


def _token(app: FastAPI, email: str, role: str) -> dict[str, str]:
    user = make_user(app.state.db, email, role=role).user
    with app.state.db.session() as s:
        token, _expires = service.issue_api_token(s, user)
    return {"Authorization": f"Bearer {token}"}


def _seed(app: FastAPI) -> None:
    with app.state.db.session() as s:
        record(s, "test.alpha", actor="ana@example.org", ticket_id=7, details={"n": 1})
        record(s, "test.beta", actor="bob@example.org", ticket_id=8, session_id="s-1", details={"n": 2})
        record(s, "test.alpha", actor='=HYPERLINK("http://evil")', address="10.0.0.9", details={"n": 3})


async def test_lead_filters_pages_and_downloads_csv(app: FastAPI, client: httpx.AsyncClient) -> None:
    _browser(app, client, "lead2@example.org", "lead")
    _seed(app)
    page = await client.get("/audit", params={"action": "test.alpha"})
    assert page.status_code == 200
    assert page.text.count('<tr data-seq="') == 2 and "test.beta</td>" not in page.text
    assert 'href="/audit.csv?action=test.alpha"' in page.text
    assert "<script" not in page.text and "style=" not in page.text

    by_actor = await client.get("/audit", params={"actor": "BOB@example.org"})
    assert by_actor.text.count('<tr data-seq="') == 1 and "s-1" not in by_actor.text.split("<tbody>")[0]

    response = await client.get("/audit.csv", params={"action": "test.alpha"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["action"] for r in rows] == ["test.alpha", "test.alpha"]
    assert rows[1]["actor"].startswith("'=")  # a spreadsheet shows it, never runs it
    assert rows[0]["ticket_id"] == "7" and rows[0]["details"] == '{"n": 1}'


async def test_date_range_and_paging(app: FastAPI, client: httpx.AsyncClient) -> None:
    _browser(app, client, "lead@example.org", "lead")
    with app.state.db.session() as s:
        seqs = [record(s, "test.bulk", actor="x", details={"i": i}).seq for i in range(60)]
        old = datetime(2020, 1, 2, 12, 0, tzinfo=UTC)
        s.execute(update(AuditEvent).where(AuditEvent.seq.in_(seqs[:5])).values(at=old))
    first = await client.get("/audit", params={"action": "test.bulk"})
    assert first.text.count('<tr data-seq="') == 50 and f'data-seq="{seqs[-1]}"' in first.text
    second = await client.get("/audit", params={"action": "test.bulk", "page": 2})
    assert second.text.count('<tr data-seq="') == 10 and f'data-seq="{seqs[0]}"' in second.text
    day = await client.get("/audit", params={"since": "2020-01-02", "until": "2020-01-02"})
    assert day.text.count('<tr data-seq="') == 5
    bad = await client.get("/audit", params={"since": "yesterday"})
    assert bad.status_code == 422


async def test_technician_may_not_open_the_audit_page(app: FastAPI, client: httpx.AsyncClient) -> None:
    _browser(app, client, "tech@example.org")
    for path in ("/audit", "/audit.csv"):
        response = await client.get(path, headers={"accept": "text/html"})
        assert response.status_code == 403
    nav = await client.get("/tickets")
    assert 'href="/audit"' not in nav.text


async def test_api_filters_and_role_scope(app: FastAPI, client: httpx.AsyncClient) -> None:
    tech = _token(app, "tech@example.org", "technician")
    lead = _token(app, "lead@example.org", "lead")
    _seed(app)

    everything = await client.get("/api/v1/audit", headers=tech)
    assert everything.status_code == 403 and everything.json()["code"] == "forbidden"
    scoped = (await client.get("/api/v1/audit", params={"ticket_id": 8}, headers=tech)).json()
    assert [e["action"] for e in scoped["items"]] == ["test.beta"]

    all_events = (await client.get("/api/v1/audit", headers=lead)).json()
    assert all_events["total"] >= 3
    alpha = (await client.get("/api/v1/audit", params={"action": "test.alpha"}, headers=lead)).json()
    assert alpha["total"] == 2
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (await client.get("/api/v1/audit", params={"since": future}, headers=lead)).json()["total"] == 0
    naive = (await client.get("/api/v1/audit", params={"until": "2999-01-01T00:00:00"}, headers=lead)).json()
    assert naive["total"] == all_events["total"]
    edge = await client.get("/api/v1/audit", params={"since": "9999-12-31T23:59:59-23:00"}, headers=lead)
    assert edge.status_code == 422 and edge.json()["code"] == "invalid_request"
