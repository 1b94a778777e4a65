"""Reports, pilots and tool feedback: what the pages and the API call.

Validation lives here so the forms and the API give the same messages; a bad field stores
nothing. The report itself comes from :mod:`compute` over rows from :mod:`queries`, through the
per-process :class:`~veo.server.reports.cache.FingerprintCache`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from veo.server.api.params import MAX_ID
from veo.server.audit.service import record
from veo.server.auth.models import User
from veo.server.db.base import utcnow
from veo.server.db.engine import Database
from veo.server.errors import ApiError, InvalidInput, NotFound
from veo.server.lang import _
from veo.server.reports import queries
from veo.server.reports.cache import FingerprintCache
from veo.server.reports.clusters import MAX_TICKETS, Cluster, find_clusters
from veo.server.reports.compute import Report, report_of, weeks_in
from veo.server.reports.models import Pilot, PilotMember, ToolFeedback
from veo.server.reports.pilot import PilotComparison, compare_frame, windows
from veo.server.reports.rows import Period

READERS = frozenset({"admin", "lead"})
DEFAULT_WEEKS = 12
MAX_DAYS = 731
MAX_COMMENT = 5000
#: Dates outside these years are typing mistakes (and year 9999 has no "day after" to end on).
FIRST_YEAR, LAST_YEAR = 1970, 2999

_reports: FingerprintCache[Report] = FingerprintCache()
#: Computes a report's clusters beside its other figures (see :func:`report`).
_workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="veo-report")
_pilots: FingerprintCache[PilotComparison] = FingerprintCache()


def require_reader(user: User) -> None:
    """Reports, pilots and feedback are for leads and admins (403 for technicians)."""
    if user.role not in READERS:
        raise ApiError(403, "forbidden", _("Only leads and administrators can see reports."))


def _printable(text: str) -> bool:
    """No NUL character (PostgreSQL refuses it in text) nor other control codes but line breaks."""
    return all(c >= " " or c in "\n\r\t" for c in text)


def _date(field: str, raw: str | None, errors: dict[str, str]) -> date | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = date.fromisoformat(raw.strip())
    except ValueError:
        errors[field] = _("Enter a date as YYYY-MM-DD, like 2026-03-31.")
        return None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        errors[field] = _("Enter a date between %(first)d and %(last)d.") % {
            "first": FIRST_YEAR,
            "last": LAST_YEAR,
        }
        return None
    return value


def parse_period(start: str | None, end: str | None, *, today: date | None = None) -> Period:
    """The period asked for; by default the last :data:`DEFAULT_WEEKS` weeks up to today."""
    errors: dict[str, str] = {}
    start_on, end_on = _date("start", start, errors), _date("end", end, errors)
    if errors:
        raise InvalidInput(errors)
    end_on = end_on or today or utcnow().date()
    start_on = start_on or end_on - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1)
    if start_on > end_on:
        raise InvalidInput({"start": _("The start date must not be after the end date.")})
    if (end_on - start_on).days + 1 > MAX_DAYS:
        raise InvalidInput({"end": _("A report covers at most %(days)d days.") % {"days": MAX_DAYS}})
    return Period(start_on, end_on)


def _where(db: Session) -> str:
    """Which database: one process may serve several (tests, the bench), never mix their reports."""
    bind = db.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return engine.url.render_as_string(hide_password=True)


def report(database: Database, period: Period, *, fresh: bool = False) -> Report:
    """The report for ``period``; with ``fresh`` never an older copy (see :mod:`cache`).

    Blocking (queries and computation): call it from a worker thread.
    """
    with database.session() as db:
        fingerprint = queries.fingerprint(db)

    def extras_of_period() -> queries.TicketExtras:
        with database.session() as db:
            return queries.ticket_extras(db, period.start_at, period.end_before)

    def clusters() -> list[Cluster]:
        with database.session() as db:
            recent = queries.recent_texts(db, period.start_at, period.end_before, MAX_TICKETS)
        return find_clusters(recent, weeks_in(period))

    def compute() -> Report:
        # Columns from a few set-based queries, figures per column (see ``frame.py``). Two
        # things overlap on a worker thread (the database drivers and NumPy let go of the
        # interpreter lock): the per-ticket extras while the tickets arrive, then the clustering
        # of recurring problems while the rest is worked out. No collector pauses meanwhile:
        # at 100,000 tickets they would cost more than the computation.
        with queries.no_collection_pauses():
            extras = _workers.submit(extras_of_period)
            with database.session() as db:
                tickets = queries.ticket_frame(db, period.start_at, period.end_before, extras.result)
                clustered = _workers.submit(clusters)
                sessions = queries.session_frame(db, period.start_at, period.end_before)
            report = report_of(tickets, sessions, period, None, computed_at=utcnow())
            return dataclasses.replace(report, clusters=clustered.result())

    key = (database.engine.url.render_as_string(hide_password=True), period)
    return _reports.get(key, fingerprint, compute, stale_ok=not fresh)


# -- pilots --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PilotInput:
    name: str
    starts_on: date
    ends_on: date
    member_ids: list[int]


def clean_pilot(db: Session, values: Mapping[str, object]) -> PilotInput:
    errors: dict[str, str] = {}
    name = values.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200 or not _printable(name):
        errors["name"] = _("Enter a name of 1 to 200 characters.")
    starts = values.get("starts_on")
    ends = values.get("ends_on")
    starts_on = _date("starts_on", starts if isinstance(starts, str) else None, errors)
    ends_on = _date("ends_on", ends if isinstance(ends, str) else None, errors)
    if starts_on is None and "starts_on" not in errors:
        errors["starts_on"] = _("This field is required.")
    if ends_on is None and "ends_on" not in errors:
        errors["ends_on"] = _("This field is required.")
    if starts_on and ends_on and ends_on < starts_on:
        errors["ends_on"] = _("The end date must not be before the start date.")
    if starts_on and ends_on and (ends_on - starts_on).days + 1 > MAX_DAYS:
        errors["ends_on"] = _("A pilot lasts at most %(days)d days.") % {"days": MAX_DAYS}
    raw_members = values.get("member_ids")
    member_ids: list[int] = []
    if not isinstance(raw_members, list) or not raw_members:
        errors["member_ids"] = _("Choose at least one technician.")
    else:
        try:
            member_ids = sorted({int(m) for m in raw_members})
        except (TypeError, ValueError):
            member_ids = [0]
        if not all(1 <= m <= MAX_ID for m in member_ids):
            errors["member_ids"] = _("Technicians are given by their numeric id.")
        else:
            found = set(db.scalars(select(User.id).where(User.id.in_(member_ids), User.is_active)))
            missing = [m for m in member_ids if m not in found]
            if missing:
                errors["member_ids"] = _("No active technician with id %(ids)s.") % {
                    "ids": ", ".join(map(str, missing))
                }
    if errors:
        raise InvalidInput(errors)
    assert isinstance(name, str) and starts_on is not None and ends_on is not None
    return PilotInput(name.strip(), starts_on, ends_on, member_ids)


def create_pilot(db: Session, values: Mapping[str, object], *, creator: User, address: str = "") -> Pilot:
    """Store a pilot and audit it (``pilot.created``): a pilot decides whose tickets a report
    compares, so who started one, when and for whom belongs in the log like any other change."""
    require_reader(creator)
    cleaned = clean_pilot(db, values)
    pilot = Pilot(
        name=cleaned.name,
        starts_on=cleaned.starts_on,
        ends_on=cleaned.ends_on,
        created_by_id=creator.id,
        members=[PilotMember(user_id=m) for m in cleaned.member_ids],
    )
    db.add(pilot)
    db.flush()
    record(
        db,
        "pilot.created",
        actor=creator.email,
        address=address,
        details={
            "id": pilot.id,
            "name": pilot.name,
            "starts_on": pilot.starts_on.isoformat(),
            "ends_on": pilot.ends_on.isoformat(),
            "members": cleaned.member_ids,
        },
    )
    return pilot


def list_pilots(db: Session) -> list[Pilot]:
    return list(db.scalars(select(Pilot).order_by(Pilot.starts_on.desc(), Pilot.id.desc())))


def get_pilot(db: Session, pilot_id: int) -> Pilot:
    pilot = db.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound(_("Pilot %(id)d does not exist.") % {"id": pilot_id})
    return pilot


def delete_pilot(db: Session, pilot_id: int, *, actor: User, address: str = "") -> None:
    """Remove a pilot (its members and the link from feedback go with it), audited as
    ``pilot.deleted`` with the name it had."""
    require_reader(actor)
    pilot = get_pilot(db, pilot_id)
    details = {"id": pilot.id, "name": pilot.name}
    db.delete(pilot)
    db.flush()
    record(db, "pilot.deleted", actor=actor.email, address=address, details=details)


def pilot_comparison(db: Session, pilot: Pilot) -> PilotComparison:
    before, during = windows(pilot.starts_on, pilot.ends_on)
    members = frozenset(m.user_id for m in pilot.members)

    def compute() -> PilotComparison:
        tickets = queries.ticket_frame(db, before.start_at, during.end_before)
        return compare_frame(tickets, members, pilot.starts_on, pilot.ends_on)

    key = (_where(db), pilot.starts_on, pilot.ends_on, members)
    return _pilots.get(key, queries.fingerprint(db), compute)


def chosen_pilot(db: Session, pilot_id: int | None) -> Pilot | None:
    """The pilot asked for, else the newest one (what the reports page shows), else None."""
    if pilot_id is not None:
        return get_pilot(db, pilot_id)
    pilots = list_pilots(db)
    return pilots[0] if pilots else None


def pilots_of(db: Session, user_id: int, on: date) -> list[Pilot]:
    """The pilots ``user_id`` takes part in on day ``on``."""
    statement = (
        select(Pilot)
        .join(PilotMember, PilotMember.pilot_id == Pilot.id)
        .where(PilotMember.user_id == user_id, Pilot.starts_on <= on, Pilot.ends_on >= on)
        .order_by(Pilot.starts_on.desc())
    )
    return list(db.scalars(statement))


# -- feedback ------------------------------------------------------------------------------------


def add_feedback(db: Session, values: Mapping[str, object], *, author: User) -> ToolFeedback:
    """Store a technician's opinion of the tool, tied to their current pilot if they are in one."""
    errors: dict[str, str] = {}
    raw_score = values.get("score")
    score = 0
    try:
        score = int(str(raw_score)) if raw_score is not None and not isinstance(raw_score, bool) else 0
    except ValueError:
        score = 0
    if not 1 <= score <= 5:
        errors["score"] = _("Choose a score from 1 to 5.")
    comment = values.get("comment", "")
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        errors["comment"] = _("Must be text.")
    elif len(comment.strip()) > MAX_COMMENT:
        errors["comment"] = _("The comment is limited to %(n)d characters.") % {"n": MAX_COMMENT}
    elif not _printable(comment):
        errors["comment"] = _("The comment contains characters that cannot be stored.")
    if errors:
        raise InvalidInput(errors)
    assert isinstance(comment, str)
    current = pilots_of(db, author.id, utcnow().date())
    feedback = ToolFeedback(
        user_id=author.id, pilot_id=current[0].id if current else None, score=score, comment=comment.strip()
    )
    db.add(feedback)
    db.flush()
    return feedback


def list_feedback(db: Session, *, limit: int = 200) -> list[ToolFeedback]:
    return list(db.scalars(select(ToolFeedback).order_by(ToolFeedback.created_at.desc()).limit(limit)))


def technicians(db: Session) -> list[User]:
    """Active accounts that can be in a pilot (everyone who may take tickets)."""
    return list(db.scalars(select(User).where(User.is_active).order_by(User.name)))


def clear_caches() -> None:
    _reports.clear()
    _pilots.clear()


def wait_for_refreshes() -> None:
    """Block until background report refreshes are done (shutdown and tests)."""
    _reports.wait_idle()
