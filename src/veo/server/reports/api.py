"""``/api/v1/reports``: every figure of the reports page as JSON or CSV, pilots and feedback.

Durations are in seconds, rates are fractions (0..1), percentiles interpolate linearly between
closest ranks; a ticket counts in the period it was created in. See ``reports/compute.py``.
"""

from __future__ import annotations

import itertools
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.orm import Session

from veo.server.addresses import client_address
from veo.server.api.params import RowId
from veo.server.api.schemas import error_responses
from veo.server.auth.deps import CurrentUser
from veo.server.db.deps import DatabaseDep
from veo.server.db.engine import Database
from veo.server.reports import export, service
from veo.server.reports.compute import Report
from veo.server.reports.models import Pilot
from veo.server.reports.pilot import PilotComparison
from veo.server.reports.rows import Period
from veo.server.reports.schemas import FeedbackCreate, FeedbackOut, PilotCreate, PilotDetailOut, PilotOut

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], responses=error_responses(401, 403, 422))
DateQuery = Annotated[str | None, Query(max_length=100, description="YYYY-MM-DD, included")]
FreshQuery = Annotated[bool, Query(description="wait for figures of this instant instead of a cached copy")]
PilotId = Annotated[RowId, Path(description="The pilot's id.")]
PilotQuery = Annotated[RowId | None, Query(description="pilot to compare (default: newest)")]


def _pilot_out(pilot: Pilot) -> PilotOut:
    return PilotOut(
        id=pilot.id,
        name=pilot.name,
        starts_on=pilot.starts_on,
        ends_on=pilot.ends_on,
        member_ids=[m.user_id for m in pilot.members],
    )


@router.get("", response_model=Report, summary="Every report figure for a period")
async def get_report(
    user: CurrentUser,
    db: DatabaseDep,
    start: DateQuery = None,
    end: DateQuery = None,
    fresh: FreshQuery = False,
) -> Report:
    """Times to first response and resolution (overall, by week, category, technician, priority),
    with vs without a remote session, rates, satisfaction, top categories, clusters of similar
    tickets with their weekly trend, and sessions per technician. Default: the last 12 weeks.

    Reports are cached: after a change the previous figures may be served once while new ones are
    computed (``computed_at`` says when); ``fresh=true`` waits for figures of this instant."""
    service.require_reader(user)
    period = service.parse_period(start, end)
    return await anyio.to_thread.run_sync(lambda: service.report(db, period, fresh=fresh))


@router.get(
    "/export.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "section,group,metric,value"},
        **error_responses(404),
    },
    summary="Every report figure as CSV, with the pilot comparison",
)
async def export_csv(
    user: CurrentUser,
    db: DatabaseDep,
    start: DateQuery = None,
    end: DateQuery = None,
    fresh: FreshQuery = False,
    pilot: PilotQuery = None,
) -> Response:
    """The figures of ``GET /api/v1/reports`` and, when a pilot exists (``pilot``, else the
    newest), its comparison (section ``pilot``). Durations in seconds, rates as fractions."""
    service.require_reader(user)
    period = service.parse_period(start, end)
    body = await report_csv(db, period, pilot, fresh=fresh)
    return csv_response(body, f"veo-report-{period.start}-{period.end}.csv")


async def report_csv(db: Database, period: Period, pilot_id: int | None, *, fresh: bool = False) -> str:
    """The CSV of the report page: the report and the comparison of the pilot it shows."""
    report = await anyio.to_thread.run_sync(lambda: service.report(db, period, fresh=fresh))

    def comparison(s: Session) -> PilotComparison | None:
        chosen = service.chosen_pilot(s, pilot_id)
        return service.pilot_comparison(s, chosen) if chosen else None

    pilot = await db.run(comparison)
    lines = itertools.chain(export.lines(report), export.pilot_lines(pilot) if pilot else ())
    return export.to_csv(lines)


def csv_response(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/pilots", response_model=list[PilotOut], summary="Pilots, newest first")
async def list_pilots(user: CurrentUser, db: DatabaseDep) -> list[PilotOut]:
    service.require_reader(user)
    return await db.run(lambda s: [_pilot_out(p) for p in service.list_pilots(s)])


@router.post("/pilots", response_model=PilotOut, status_code=201, summary="Start a pilot")
async def create_pilot(body: PilotCreate, request: Request, user: CurrentUser, db: DatabaseDep) -> PilotOut:
    values = body.model_dump()
    address = client_address(request)
    return await db.run(lambda s: _pilot_out(service.create_pilot(s, values, creator=user, address=address)))


@router.get(
    "/pilots/{pilot_id}",
    response_model=PilotDetailOut,
    responses=error_responses(404),
    summary="A pilot and its comparison: pilot vs the rest, before vs during",
)
async def get_pilot(pilot_id: PilotId, user: CurrentUser, db: DatabaseDep) -> PilotDetailOut:
    service.require_reader(user)

    def work(s: Session) -> PilotDetailOut:
        pilot = service.get_pilot(s, pilot_id)
        comparison = service.pilot_comparison(s, pilot)
        return PilotDetailOut(**_pilot_out(pilot).model_dump(), comparison=comparison)

    return await db.run(work)


@router.delete(
    "/pilots/{pilot_id}", status_code=204, responses=error_responses(404), summary="Delete a pilot"
)
async def delete_pilot(pilot_id: PilotId, request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    service.require_reader(user)
    address = client_address(request)
    await db.run(lambda s: service.delete_pilot(s, pilot_id, actor=user, address=address))
    return Response(status_code=204)


@router.get("/feedback", response_model=list[FeedbackOut], summary="Technicians' feedback, newest first")
async def list_feedback(user: CurrentUser, db: DatabaseDep) -> list[FeedbackOut]:
    service.require_reader(user)
    return await db.run(lambda s: [FeedbackOut.model_validate(f) for f in service.list_feedback(s)])


@router.post("/feedback", response_model=FeedbackOut, status_code=201, summary="Give feedback on the tool")
async def add_feedback(body: FeedbackCreate, user: CurrentUser, db: DatabaseDep) -> FeedbackOut:
    values = body.model_dump()
    return await db.run(lambda s: FeedbackOut.model_validate(service.add_feedback(s, values, author=user)))
