"""Reports through the REST API, the CSV export and the page, on SQLite and PostgreSQL.

The figures are those of the hand-worked fixture (``tests/unit/server/reports/fixture.py``):
the same numbers must come out of the real queries, and the page, the API and the CSV must
agree with each other.
"""

from __future__ import annotations

import csv
import io
import re

import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from tests.integration.reports_seed import LEAD, seed
from tests.support import api_token, csrf_from, login, make_user

from veo.server.tickets.models import Ticket

PERIOD = "start=2026-03-02&end=2026-03-15"
MIN, HOUR = 60, 3600


@pytest.fixture
async def lead(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    from veo.server.reports import service

    # The PostgreSQL variants share one database, emptied between tests: forget its reports.
    service.clear_caches()
    seed(app.state.db)
    return await api_token(client, LEAD)


def _text(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert match is not None, element_id
    return match.group(1).strip()


async def test_api_figures_match_the_hand_worked_values(
    client: httpx.AsyncClient, lead: dict[str, str]
) -> None:
    response = await client.get(f"/api/v1/reports?{PERIOD}", headers=lead)
    assert response.status_code == 200, response.text
    report = response.json()
    overall = report["overall"]
    assert overall["tickets"] == 5
    assert overall["first_response"]["median"] == 30 * MIN
    assert overall["first_response"]["p90"] == pytest.approx(46 * MIN)
    assert overall["resolution"]["mean"] == 5 * HOUR
    assert overall["resolution"]["p90"] == pytest.approx(7.4 * HOUR)
    assert [w["key"] for w in report["by_week"]] == ["2026-03-02", "2026-03-09"]
    assert report["by_week"][0]["resolution"]["p90"] == pytest.approx(5.6 * HOUR)
    with_session, without = report["session_comparison"]
    assert (with_session["tickets"], with_session["resolution"]["median"]) == (2, 4 * HOUR)
    assert (without["tickets"], without["resolution"]["median"]) == (2, 6 * HOUR)
    assert report["rates"]["first_contact_rate"] == 0.5
    assert report["rates"]["reopen_rate"] == 0.25
    assert report["satisfaction"]["average"] == 4
    assert report["satisfaction"]["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
    assert [(c["category"], c["tickets"]) for c in report["top_categories"]] == [
        ("Printing", 3),
        ("Network", 2),
    ]
    assert [g["key"] for g in report["by_priority"]] == ["high", "normal", "low"]
    sessions = {t["technician"]: t for t in report["technician_sessions"]}
    assert sessions["Ben"]["sessions"] == 2 and sessions["Ben"]["length"]["mean"] == 15 * MIN
    assert sessions["Ana"]["sessions"] == 1 and sessions["Ana"]["length"]["mean"] == 30 * MIN
    printing = next(c for c in report["clusters"] if "printer" in c["terms"])
    assert {t["title"] for t in printing["tickets"]} >= {"Printer jams", "Printer offline"}


async def test_csv_and_page_show_the_api_numbers(client: httpx.AsyncClient, lead: dict[str, str]) -> None:
    report = (await client.get(f"/api/v1/reports?{PERIOD}", headers=lead)).json()
    exported = await client.get(f"/api/v1/reports/export.csv?{PERIOD}", headers=lead)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    figures = {(s, g, m): v for s, g, m, v in list(csv.reader(io.StringIO(exported.text)))[1:]}
    assert float(figures[("overall", "all", "resolution_p90_s")]) == report["overall"]["resolution"]["p90"]
    assert float(figures[("rates", "", "first_contact_rate")]) == report["rates"]["first_contact_rate"]
    assert int(figures[("session_comparison", "without_session", "tickets")]) == 2

    await login(client, LEAD)
    page = await client.get(f"/reports?{PERIOD}")
    assert page.status_code == 200
    html = page.text
    assert _text(html, "fig-tickets") == "5"
    assert _text(html, "fig-resolution-median") == "5"  # hours
    assert _text(html, "fig-resolution-p90") == "7.4"
    assert _text(html, "fig-first-response-median") == "30"  # minutes
    assert _text(html, "fig-fcr") == "50%"
    assert _text(html, "fig-reopen") == "25%"
    assert _text(html, "fig-satisfaction") == "4"
    for chart in ("chart-week-resolution", "chart-category", "chart-session-compare", "chart-satisfaction"):
        assert f'id="{chart}"' in html and f'id="{chart}-title"' in html
    page_csv = await client.get(f"/reports/export.csv?{PERIOD}")
    assert page_csv.text == exported.text

    spanish = (await client.get(f"/reports?{PERIOD}&lang=es")).text
    assert '<html lang="es">' in spanish
    assert _text(spanish, "fig-resolution-p90") == "7,4"  # Babel: decimal comma


async def test_cached_report_follows_changes(
    app: FastAPI, client: httpx.AsyncClient, lead: dict[str, str]
) -> None:
    from veo.server.reports import service

    before = (await client.get(f"/api/v1/reports?{PERIOD}", headers=lead)).json()
    with app.state.db.session() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.title == "Toner empty")).one()
        ticket.resolved_at = ticket.created_at.replace(hour=19)  # +10 h
    # Right after a change the cached figures come back at once, while new ones are computed ...
    cached = (await client.get(f"/api/v1/reports?{PERIOD}", headers=lead)).json()
    assert cached == before and before["rates"]["resolved"] == 4
    await anyio.to_thread.run_sync(service.wait_for_refreshes)
    # ... which the next reader gets; fresh=true waits for figures of this instant.
    after = (await client.get(f"/api/v1/reports?{PERIOD}", headers=lead)).json()
    fresh = (await client.get(f"/api/v1/reports?{PERIOD}&fresh=true", headers=lead)).json()
    assert after == fresh
    assert after["rates"]["resolved"] == 5
    assert after["overall"]["resolution"]["median"] == 6 * HOUR  # 2 4 6 8 10
    assert after["computed_at"] > before["computed_at"]


async def test_technicians_cannot_read_reports(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    auth = await api_token(client, "tech@example.org")
    for path in (
        "/api/v1/reports",
        "/api/v1/reports/export.csv",
        "/api/v1/reports/pilots",
        "/api/v1/reports/feedback",
    ):
        response = await client.get(path, headers=auth)
        assert response.status_code == 403 and response.json()["code"] == "forbidden", path
    await login(client, "tech@example.org")
    assert (await client.get("/reports")).status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=2026-13-01", "start"),
        ("end=yesterday", "end"),
        ("start=2026-03-10&end=2026-03-01", "start"),
        ("start=2020-01-01&end=2026-01-01", "end"),
        ("start=9999-12-30&end=9999-12-31", "start"),
    ],
)
async def test_bad_periods(client: httpx.AsyncClient, lead: dict[str, str], query: str, field: str) -> None:
    response = await client.get(f"/api/v1/reports?{query}", headers=lead)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request" and body["message"].startswith(f"{field}:")
    await login(client, LEAD)
    page = await client.get(f"/reports?{query}")
    assert page.status_code == 422 and f'id="{field}-error"' in page.text


async def test_pilot_api_compares_and_refuses_bad_input(
    app: FastAPI, client: httpx.AsyncClient, lead: dict[str, str]
) -> None:
    from veo.server.reports.models import Pilot

    users = await _user_ids(app)
    bad = [
        (
            {"name": "", "starts_on": "2026-03-02", "ends_on": "2026-03-15", "member_ids": [users["Ana"]]},
            "name",
        ),
        (
            {"name": "P", "starts_on": "2026-03-20", "ends_on": "2026-03-15", "member_ids": [users["Ana"]]},
            "ends_on",
        ),
        (
            {"name": "P", "starts_on": "03/02/2026", "ends_on": "2026-03-15", "member_ids": [users["Ana"]]},
            "starts_on",
        ),
        ({"name": "P", "starts_on": "2026-03-02", "ends_on": "2026-03-15", "member_ids": []}, "member_ids"),
        (
            {"name": "P", "starts_on": "2026-03-02", "ends_on": "2026-03-15", "member_ids": [999999]},
            "member_ids",
        ),
    ]
    for body, field in bad:
        response = await client.post("/api/v1/reports/pilots", json=body, headers=lead)
        assert response.status_code == 422 and response.json()["message"].startswith(f"{field}:"), body
    with app.state.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Pilot)) == 0

    body = {
        "name": "Floor 2",
        "starts_on": "2026-03-02",
        "ends_on": "2026-03-15",
        "member_ids": [users["Ana"]],
    }
    created = await client.post("/api/v1/reports/pilots", json=body, headers=lead)
    assert created.status_code == 201, created.text
    pilot_id = created.json()["id"]
    detail = (await client.get(f"/api/v1/reports/pilots/{pilot_id}", headers=lead)).json()
    groups = {g["key"]: g for g in detail["comparison"]["groups"]}
    # Ana had T1 (2 h), T2 (4 h), T5 (open); Ben T3 (6 h), T4 (8 h)
    assert groups["pilot_during"]["stats"]["tickets"] == 3
    assert groups["pilot_during"]["stats"]["resolution"]["median"] == 3 * HOUR
    assert groups["rest_during"]["stats"]["resolution"]["median"] == 7 * HOUR
    assert groups["pilot_before"]["stats"]["tickets"] == 0
    listed = (await client.get("/api/v1/reports/pilots", headers=lead)).json()
    assert [p["member_ids"] for p in listed] == [[users["Ana"]]]
    assert (await client.get("/api/v1/reports/pilots/424242", headers=lead)).status_code == 404
    assert (await client.delete(f"/api/v1/reports/pilots/{pilot_id}", headers=lead)).status_code == 204
    assert (await client.get("/api/v1/reports/pilots", headers=lead)).json() == []


async def _user_ids(app: FastAPI) -> dict[str, int]:
    from veo.server.auth.models import User

    with app.state.db.session() as s:
        return {name: uid for name, uid in s.execute(select(User.name, User.id))}


async def test_pilot_form_and_report_section(
    app: FastAPI, client: httpx.AsyncClient, lead: dict[str, str]
) -> None:
    users = await _user_ids(app)
    await login(client, LEAD)
    form = await client.get("/reports/pilots")
    token = csrf_from(form.text)
    refused = await client.post(
        "/reports/pilots",
        data={"csrf_token": token, "name": "Floor 2", "starts_on": "2026-03-02", "ends_on": ""},
    )
    assert (
        refused.status_code == 422
        and 'id="ends_on-error"' in refused.text
        and 'value="Floor 2"' in refused.text
    )
    data = {
        "csrf_token": token,
        "name": "Floor 2",
        "starts_on": "2026-03-02",
        "ends_on": "2026-03-15",
        "member_ids": [str(users["Ana"])],
    }
    created = await client.post("/reports/pilots", data=data)
    assert created.status_code == 303
    page = (await client.get(f"/reports?{PERIOD}")).text
    assert 'id="table-pilot"' in page and 'data-key="pilot_during"' in page and 'id="chart-pilot"' in page
    # The export holds the comparison the page shows, with the same figures as the API.
    exported = (await client.get(f"/reports/export.csv?{PERIOD}")).text
    figures = {(s, g, m): v for s, g, m, v in list(csv.reader(io.StringIO(exported)))[1:]}
    assert figures[("pilot", "pilot_during", "tickets")] == "3"
    assert float(figures[("pilot", "rest_during", "resolution_median_s")]) == 7 * HOUR
    assert figures[("pilot", "pilot_during", "start")] == "2026-03-02"
    assert (await client.get("/reports?pilot=424242")).status_code == 404


async def test_feedback_from_technicians_listed_for_leads(
    app: FastAPI, client: httpx.AsyncClient, lead: dict[str, str]
) -> None:
    from veo.server.reports.models import ToolFeedback

    await login(client, "ana@example.org")
    page = await client.get("/feedback")
    assert page.status_code == 200 and 'id="feedback-list"' not in page.text
    token = csrf_from(page.text)
    for data, field in (
        ({"score": "9", "comment": "x"}, "score"),
        ({"score": "", "comment": "x"}, "score"),
        ({"score": "3", "comment": "nul \x00"}, "comment"),
    ):
        refused = await client.post("/feedback", data={"csrf_token": token, **data})
        assert refused.status_code == 422 and f'id="{field}-error"' in refused.text
    with app.state.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ToolFeedback)) == 0
    sent = await client.post(
        "/feedback", data={"csrf_token": token, "score": "4", "comment": "Faster than phone"}
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/feedback?sent=1"
    api = await client.post("/api/v1/reports/feedback", json={"score": 0}, headers={"x-csrf-token": token})
    assert api.status_code == 422

    listed = (await client.get("/api/v1/reports/feedback", headers=lead)).json()
    assert [(f["score"], f["comment"]) for f in listed] == [(4, "Faster than phone")]


async def test_pilots_are_audited(app: FastAPI, client: httpx.AsyncClient, lead: dict[str, str]) -> None:
    """Starting and deleting a pilot (API and form) each leave an audit row with who and what;
    a refused one leaves none, and the audit page says it in words."""
    from veo.server.audit.models import AuditEvent

    def pilot_events() -> list[tuple[str, str, dict[str, object]]]:
        with app.state.db.session() as s:
            rows = s.scalars(
                select(AuditEvent).where(AuditEvent.action.like("pilot.%")).order_by(AuditEvent.seq)
            )
            return [(e.action, e.actor, dict(e.details)) for e in rows]

    ana = (await _user_ids(app))["Ana"]
    body = {"name": "Floor 2", "starts_on": "2026-03-02", "ends_on": "2026-03-15", "member_ids": [ana]}
    refused = await client.post("/api/v1/reports/pilots", json={**body, "name": ""}, headers=lead)
    assert refused.status_code == 422 and pilot_events() == []
    created = (await client.post("/api/v1/reports/pilots", json=body, headers=lead)).json()
    assert (await client.delete(f"/api/v1/reports/pilots/{created['id']}", headers=lead)).status_code == 204
    assert (await client.delete(f"/api/v1/reports/pilots/{created['id']}", headers=lead)).status_code == 404

    await login(client, LEAD)
    token = csrf_from((await client.get("/reports/pilots")).text)
    form = {**body, "name": "Floor 3", "member_ids": [str(ana)], "csrf_token": token}
    assert (await client.post("/reports/pilots", data=form)).status_code == 303
    second = (await client.get("/api/v1/reports/pilots", headers=lead)).json()[0]["id"]
    assert (
        await client.post(f"/reports/pilots/{second}/delete", data={"csrf_token": token})
    ).status_code == 303

    period = {"starts_on": "2026-03-02", "ends_on": "2026-03-15", "members": [ana]}
    assert pilot_events() == [
        ("pilot.created", LEAD, {"id": created["id"], "name": "Floor 2", **period}),
        ("pilot.deleted", LEAD, {"id": created["id"], "name": "Floor 2"}),
        ("pilot.created", LEAD, {"id": second, "name": "Floor 3", **period}),
        ("pilot.deleted", LEAD, {"id": second, "name": "Floor 3"}),
    ]
    audit = (await client.get("/audit?action=pilot.created")).text
    assert "Pilot started" in audit and "“Floor 3”." in audit
