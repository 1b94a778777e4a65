"""Report pages: the reports with their charts, pilots (leads and admins) and tool feedback.

Routes only parse and render: figures come from :mod:`service`, chart geometry from :mod:`view`.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from veo.server.addresses import client_address
from veo.server.api.params import RowId
from veo.server.auth.deps import CurrentUser
from veo.server.db.deps import DatabaseDep
from veo.server.errors import InvalidInput
from veo.server.reports import service
from veo.server.reports.api import csv_response, report_csv
from veo.server.reports.formatting import FORMATTERS
from veo.server.reports.pilot import PilotComparison
from veo.server.reports.view import group_name, pilot_chart, report_view
from veo.server.web.templating import render

router = APIRouter(include_in_schema=False)
DateQuery = Annotated[str | None, Query(max_length=100)]


def _context(extra: dict[str, Any]) -> dict[str, Any]:
    return {**FORMATTERS, "group_name": group_name, **extra}


@router.get("/reports")
async def reports_page(
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    start: DateQuery = None,
    end: DateQuery = None,
    pilot: RowId | None = None,
) -> Response:
    service.require_reader(user)
    values = {"start": start or "", "end": end or ""}
    try:
        period = service.parse_period(start, end)
    except InvalidInput as exc:
        context = _context(
            {"view": None, "values": values, "errors": exc.fields, "pilots": [], "pilot": None}
        )
        return await render(request, "reports/index.html", context, status_code=422)

    def work(s: Session) -> dict[str, Any]:
        pilots = service.list_pilots(s)
        chosen = service.chosen_pilot(s, pilot)
        comparison: PilotComparison | None = service.pilot_comparison(s, chosen) if chosen else None
        return {
            "pilots": pilots,
            "pilot": chosen,
            "comparison": comparison,
            "pilot_chart": pilot_chart(comparison) if comparison else None,
        }

    report = await anyio.to_thread.run_sync(lambda: service.report(db, period))
    data = await db.run(work)
    data["view"] = report_view(report)
    values = {"start": period.start.isoformat(), "end": period.end.isoformat()}
    return await render(request, "reports/index.html", _context({**data, "values": values, "errors": {}}))


@router.get("/reports/export.csv")
async def reports_csv(
    user: CurrentUser,
    db: DatabaseDep,
    start: DateQuery = None,
    end: DateQuery = None,
    pilot: RowId | None = None,
) -> Response:
    service.require_reader(user)
    period = service.parse_period(start, end)
    body = await report_csv(db, period, pilot)
    return csv_response(body, f"veo-report-{period.start}-{period.end}.csv")


# -- pilots --------------------------------------------------------------------------------------


async def _pilots_page(
    request: Request, db: DatabaseDep, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    def work(s: Session) -> dict[str, Any]:
        return {"pilots": service.list_pilots(s), "technicians": service.technicians(s)}

    data = await db.run(work)
    context = _context({**data, "values": values, "errors": errors})
    return await render(request, "reports/pilots.html", context, status_code=status)


@router.get("/reports/pilots")
async def pilots_page(request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    service.require_reader(user)
    return await _pilots_page(request, db, {"member_ids": []}, {})


@router.post("/reports/pilots")
async def create_pilot(
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    name: Annotated[str, Form(max_length=10000)] = "",
    starts_on: Annotated[str, Form(max_length=100)] = "",
    ends_on: Annotated[str, Form(max_length=100)] = "",
    member_ids: Annotated[list[str] | None, Form(max_length=1000)] = None,
) -> Response:
    service.require_reader(user)
    values: dict[str, Any] = {
        "name": name,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "member_ids": member_ids or [],
    }
    address = client_address(request)
    try:
        await db.run(lambda s: service.create_pilot(s, values, creator=user, address=address))
    except InvalidInput as exc:
        return await _pilots_page(request, db, values, exc.fields, status=422)
    return RedirectResponse("/reports/pilots", status_code=303)


@router.post("/reports/pilots/{pilot_id}/delete")
async def delete_pilot(request: Request, user: CurrentUser, db: DatabaseDep, pilot_id: RowId) -> Response:
    service.require_reader(user)
    address = client_address(request)
    await db.run(lambda s: service.delete_pilot(s, pilot_id, actor=user, address=address))
    return RedirectResponse("/reports/pilots", status_code=303)


# -- feedback ------------------------------------------------------------------------------------


async def _feedback_page(
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    sent: bool = False,
) -> Response:
    reader = user.role in service.READERS
    entries = await db.run(service.list_feedback) if reader else []
    context = _context(
        {"entries": entries, "reader": reader, "values": values, "errors": errors, "sent": sent}
    )
    return await render(request, "reports/feedback.html", context, status_code=status)


@router.get("/feedback")
async def feedback_page(
    request: Request, user: CurrentUser, db: DatabaseDep, sent: Annotated[int, Query(ge=0, le=1)] = 0
) -> Response:
    return await _feedback_page(request, user, db, {}, {}, sent=bool(sent))


@router.post("/feedback")
async def give_feedback(
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    score: Annotated[str, Form(max_length=100)] = "",
    comment: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    values = {"score": score, "comment": comment}
    try:
        await db.run(lambda s: service.add_feedback(s, values, author=user))
    except InvalidInput as exc:
        return await _feedback_page(request, user, db, values, exc.fields, status=422)
    return RedirectResponse("/feedback?sent=1", status_code=303)
