"""Write months of realistic help-desk activity in bulk (multi-row inserts, no ORM objects).

What a department's database would hold after that time: tickets on working days and hours,
categories where a few dominate, priorities and channels, response and resolution times drawn
from log-normal distributions (most fast, a long tail) and shaped by category and priority, a
status history that matches each ticket's status (reopenings, waits on the user), public replies,
remote sessions on about a third of the tickets (which resolve faster: the promise reports
measure), failed attempts (a code that expired, a user who said no), ratings of sessions and of
resolved tickets, and a pilot: three technicians who, over the last weeks, reach for a remote
session first.

The random generator is seeded: the same plan gives the same data. Ids of new tickets follow the
largest existing one and accounts or categories with the same e-mail or name are reused, so the
generator also runs on an instance that already has its administrator (or earlier sample data).
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text

from veo.server.auth.models import User
from veo.server.notify.models import RatingRequest
from veo.server.reports.models import Pilot, PilotMember
from veo.server.sample import texts
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Category, Ticket, TicketChange, TicketComment

#: Tickets built and written per step (progress is reported after each).
CHUNK = 1000
LEAD_EMAIL = "lead@bench.example"
#: Only ever used on the bench's throwaway database.
BENCH_PASSWORD = "bench password, not secret"
TICKETS_PER_MONTH = 160
PRIORITIES = (("low", 20), ("normal", 55), ("high", 20), ("urgent", 5))
CHANNELS = (("phone", 40), ("email", 30), ("portal", 25), ("walk_in", 5))
#: How priority and category stretch the time to resolution.
PRIORITY_PACE = {"low": 1.4, "normal": 1.0, "high": 0.75, "urgent": 0.5}
CATEGORY_PACE = {"Hardware": 2.2, "Accounts": 0.5, "Access": 1.6, "Phones": 1.3}
#: A remote session shortens the time to resolution to this share (the seed's promise).
SESSION_PACE = 0.4
SESSION_SHARE = 0.35
PILOT_SESSION_SHARE = 0.65
PILOT_MEMBERS = 3
IDENTITY = (("email_link", 40), ("phone_questions", 35), ("managed_device", 15), ("not_verified", 10))
PERMISSIONS = (
    (("view", "control"), 70),
    (("view",), 15),
    (("view", "control", "clipboard"), 10),
    (("view", "control", "clipboard", "files"), 5),
)
REPLIES = [
    "Thanks, I am looking into it and will call you shortly.",
    "Gracias, lo reviso y le llamo en unos minutos.",
    "Could you tell me the exact error message?",
]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Plan:
    """What to generate. ``demo_plan`` and ``bench_plan`` are the two in use."""

    tickets: int
    #: tickets are created over this many days up to now
    days: int = 365
    technicians: int = 20
    seed: int = 7
    now: datetime | None = None
    email_domain: str = "sample.example"
    #: a lead account who can sign in with ``password`` (the bench signs in as it)
    lead_email: str | None = None
    #: password of the generated accounts; None: a random one that is never shown
    password: str | None = None
    pilot: bool = True


def demo_plan(months: int, seed: int = 1, *, now: datetime | None = None) -> Plan:
    """A department of eight technicians over ``months`` months, for a first look at veo."""
    return Plan(
        tickets=months * TICKETS_PER_MONTH, days=round(months * 30.44), technicians=8, seed=seed, now=now
    )


def bench_plan(count: int, *, now: datetime | None = None) -> Plan:
    """A year of ``count`` tickets, twenty technicians and a lead the bench signs in as."""
    return Plan(
        tickets=count,
        days=365,
        technicians=20,
        seed=7,
        now=now,
        email_domain="bench.example",
        lead_email=LEAD_EMAIL,
        password=BENCH_PASSWORD,
    )


@dataclass(frozen=True)
class Generated:
    tickets: int
    sessions: int
    changes: int
    ratings: int
    technicians: int
    first_day: date
    last_day: date
    pilot_id: int | None
    lead_email: str | None


@dataclass
class _Context:
    """What every ticket of one run draws on."""

    rng: random.Random
    now: datetime
    plan: Plan
    technicians: list[int]
    pilot_members: set[int]
    pilot_start: datetime | None
    categories: list[tuple[int, str]]
    category_weights: list[float]


@dataclass
class _Rows:
    tickets: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    ratings: list[dict[str, Any]]


def _pick(rng: random.Random, weighted: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([v for v, _w in weighted], weights=[w for _v, w in weighted])[0]


def _slug(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ".".join(part.lower() for part in plain.split())


def _digest(*parts: object) -> str:
    return hashlib.sha256("-".join(str(p) for p in ("veo-sample", *parts)).encode()).hexdigest()


def _session_id(ticket_id: int, index: int) -> str:
    """Deterministic, and unique across runs (ticket ids never repeat)."""
    return str(uuid.UUID(bytes=bytes.fromhex(_digest(ticket_id, index))[:16], version=4))


def generate(engine: Engine, plan: Plan, *, progress: Progress | None = None) -> Generated:
    """Write ``plan`` into the migrated database in one transaction; returns what was written."""
    from veo.server.auth.passwords import hash_password

    rng = random.Random(plan.seed)
    now = plan.now or datetime.now(UTC)
    password_hash = hash_password(plan.password or secrets.token_urlsafe(24))
    counts = {"tickets": 0, "sessions": 0, "changes": 0, "ratings": 0}
    with engine.begin() as conn:
        technicians = _accounts(conn, rng, plan, password_hash, now)
        pilot_id, pilot_start = None, None
        members = set(technicians[:PILOT_MEMBERS]) if plan.pilot else set()
        if plan.pilot and technicians:
            pilot_id, pilot_start = _pilot(conn, plan, now, sorted(members))
        categories = _categories(conn, now)
        context = _Context(
            rng=rng,
            now=now,
            plan=plan,
            technicians=technicians,
            pilot_members=members,
            pilot_start=pilot_start,
            categories=categories,
            category_weights=[math.exp(-i / 4) for i in range(len(categories))],  # a few dominate
        )
        first_id = (conn.scalar(select(func.max(Ticket.id))) or 0) + 1
        # Drawn first and sorted, so that ticket numbers grow with creation time as they do in use.
        created = sorted(_created_at(context) for _ in range(plan.tickets))
        written = 0
        while written < plan.tickets:
            rows = _Rows([], [], [], [], [])
            for index in range(written, min(written + CHUNK, plan.tickets)):
                _ticket(context, first_id + index, created[index], rows)
            _write(conn, rows)
            written += len(rows.tickets)
            counts["tickets"] += len(rows.tickets)
            counts["sessions"] += sum(1 for s in rows.sessions if s["started_at"] is not None)
            counts["changes"] += len(rows.changes)
            counts["ratings"] += len(rows.ratings)
            if progress is not None:
                progress(written, plan.tickets)
        _settle_sequences(conn)
    _analyze(engine)
    return Generated(
        tickets=counts["tickets"],
        sessions=counts["sessions"],
        changes=counts["changes"],
        ratings=counts["ratings"],
        technicians=len(technicians),
        first_day=(now - timedelta(days=plan.days)).date(),
        last_day=now.date(),
        pilot_id=pilot_id,
        lead_email=plan.lead_email,
    )


def _accounts(
    conn: Connection, rng: random.Random, plan: Plan, password_hash: str, now: datetime
) -> list[int]:
    """The technicians' (and lead's) user ids; existing accounts with the same e-mail are reused."""
    people: list[tuple[str, str, str]] = []
    if plan.lead_email:
        people.append((plan.lead_email, "Bench Lead", "lead"))
    seen: set[str] = set()
    for i in range(plan.technicians):
        name = (
            texts.TECHNICIANS[i]
            if i < len(texts.TECHNICIANS)
            else f"{rng.choice(texts.FIRST)} {rng.choice(texts.LAST)}"
        )
        local = _slug(name) if i < len(texts.TECHNICIANS) else f"tech{i + 1}"
        while local in seen:
            local += "1"
        seen.add(local)
        people.append((f"{local}@{plan.email_domain}", name, "technician"))
    ids: list[int] = []
    for email, name, role in people:
        existing = conn.scalar(select(User.id).where(User.email == email))
        if existing is None:
            existing = conn.execute(
                insert(User)
                .values(
                    email=email,
                    name=name,
                    role=role,
                    password_hash=password_hash,
                    must_change_password=plan.password is None,
                    is_active=True,
                    created_at=now - timedelta(days=plan.days + 30),
                )
                .returning(User.id)
            ).scalar_one()
        if role == "technician":
            ids.append(existing)
    return ids


def _pilot(conn: Connection, plan: Plan, now: datetime, members: list[int]) -> tuple[int, datetime]:
    """The pilot over the last weeks (a third of the span, at most six weeks), ending today."""
    days = max(7, min(42, plan.days // 3))
    starts_on = now.date() - timedelta(days=days - 1)
    pilot_id = conn.execute(
        insert(Pilot)
        .values(name=texts.PILOT_NAME, starts_on=starts_on, ends_on=now.date(), created_at=now)
        .returning(Pilot.id)
    ).scalar_one()
    conn.execute(insert(PilotMember), [{"pilot_id": pilot_id, "user_id": m} for m in members])
    return pilot_id, datetime.combine(starts_on, datetime.min.time(), tzinfo=UTC)


def _categories(conn: Connection, now: datetime) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for name in texts.PROBLEMS:
        category_id = conn.scalar(select(Category.id).where(Category.name == name))
        if category_id is None:
            category_id = conn.execute(
                insert(Category)
                .values(name=name, created_at=now - timedelta(days=400))
                .returning(Category.id)
            ).scalar_one()
        found.append((category_id, name))
    return found


def _created_at(c: _Context) -> datetime:
    """A moment in working hours on a working day (mostly) within the plan's span."""
    rng = c.rng
    day = c.now - timedelta(days=c.plan.days * rng.random() ** 1.1)
    if day.weekday() >= 5 and rng.random() < 0.8:  # few tickets at weekends
        day -= timedelta(days=day.weekday() - 4)
    created = day.replace(hour=rng.randint(8, 17), minute=rng.randint(0, 59), second=rng.randint(0, 59))
    return created if created < c.now else created - timedelta(days=1)


def _still_open(c: _Context, age: timedelta) -> bool:
    """Recent tickets are often still being worked on; old ones almost never."""
    days = age.total_seconds() / 86400
    chance = 0.6 if days < 2 else 0.25 if days < 7 else 0.06 if days < 30 else 0.01
    return c.rng.random() < chance


def _ticket(c: _Context, ticket_id: int, created: datetime, rows: _Rows) -> None:
    rng, now = c.rng, c.now
    category_id, category = rng.choices(c.categories, weights=c.category_weights)[0]
    problem = rng.choice(texts.PROBLEMS[category])
    words = {"n": rng.randint(1, 6), "thing": rng.choice(texts.THINGS), "day": rng.choice(texts.DAYS)}
    assignee = rng.choice(c.technicians) if c.technicians else None
    priority = _pick(rng, PRIORITIES)
    channel = _pick(rng, CHANNELS)
    in_pilot = assignee in c.pilot_members and c.pilot_start is not None and created >= c.pilot_start
    has_session = rng.random() < (PILOT_SESSION_SHARE if in_pilot else SESSION_SHARE)
    first = created + timedelta(minutes=rng.lognormvariate(3.0, 1.0))
    hours = rng.lognormvariate(1.5, 1.1) * PRIORITY_PACE[priority] * CATEGORY_PACE.get(category, 1.0)
    hours *= SESSION_PACE if has_session else 1.0
    resolved = max(created + timedelta(hours=hours), first + timedelta(minutes=5))

    status = "resolved"
    if _still_open(c, now - created):
        status = rng.choice(("new", "open", "open", "waiting"))
    if first > now:
        status = "new"
    answered = status != "new"
    sessions = _sessions(c, ticket_id, assignee, first, has_session and answered, rows) if answered else []
    if sessions:
        resolved = max(resolved, sessions[-1] + timedelta(minutes=rng.randint(2, 20)))
    done = status == "resolved" and resolved < now
    if status == "resolved" and not done:
        status = "open"
    if done and resolved < now - timedelta(days=3) and rng.random() < 0.7:
        status = "closed"
    closed = resolved + timedelta(days=3) if status == "closed" else None
    waited = status == "waiting" or (done and rng.random() < 0.12)
    reopened = done and rng.random() < 0.05
    history = _history(
        first=first if answered else None,
        waited=waited,
        waiting_now=status == "waiting",
        reopened=reopened,
        resolved=resolved if done else None,
        closed=closed,
    )
    last_change = history[-1][2] if history else created
    rows.changes += [
        {"ticket_id": ticket_id, "actor_id": assignee, "at": at, "field": "status", "old": old, "new": new}
        for old, new, at in history
    ]
    rows.tickets.append(
        {
            "id": ticket_id,
            "title": problem.title.format(**words),
            "description": problem.description.format(**words),
            "requester_name": f"{rng.choice(texts.FIRST)} {rng.choice(texts.LAST)}",
            "requester_email": f"user{rng.randint(1, 3000)}@corp.example",
            "requester_department": rng.choice(texts.DEPARTMENTS),
            "status": status,
            "priority": priority,
            "channel": channel,
            "category_id": category_id,
            "created_by_id": assignee if channel in ("phone", "walk_in") else None,
            "assignee_id": assignee if answered else None,
            "created_at": created,
            "updated_at": last_change,
            "first_response_at": first if answered else None,
            "status_changed_at": last_change if answered else None,
            "resolved_at": resolved if done else None,
            "closed_at": closed,
            "reopened_count": 1 if reopened else 0,
            "resolution_note": problem.note.format(**words) if done else "",
        }
    )
    if answered and rng.random() < 0.5:
        rows.comments.append(
            {
                "ticket_id": ticket_id,
                "author_id": assignee,
                "body": rng.choice(REPLIES),
                "public": True,
                "created_at": first,
            }
        )
    if done and not sessions and rng.random() < 0.15:
        score = rng.choices([1, 2, 3, 4, 5], weights=[5, 7, 15, 38, 35])[0]
        rows.ratings.append(_rating(c, ticket_id, None, resolved + timedelta(hours=2), score))


def _history(
    *,
    first: datetime | None,
    waited: bool,
    waiting_now: bool,
    reopened: bool,
    resolved: datetime | None,
    closed: datetime | None,
) -> list[tuple[str, str, datetime]]:
    """The ticket's status changes, in time order, ending at its current status."""
    if first is None:
        return []
    steps = [("new", "open", first)]
    end = resolved or first + timedelta(days=1)
    if waited:
        steps.append(("open", "waiting", first + (end - first) / 4))
        if not waiting_now:
            steps.append(("waiting", "open", first + (end - first) / 2))
    if resolved is not None:
        if reopened:
            steps.append(("open", "resolved", first + (end - first) * 0.6))
            steps.append(("resolved", "open", first + (end - first) * 0.8))
        steps.append(("open", "resolved", resolved))
    if closed is not None:
        steps.append(("resolved", "closed", closed))
    return steps


def _sessions(
    c: _Context, ticket_id: int, technician: int | None, first: datetime, helped: bool, rows: _Rows
) -> list[datetime]:
    """Remote sessions of one ticket (their end times); sometimes an attempt that never started."""
    rng = c.rng
    ends: list[datetime] = []
    if not helped:
        if rng.random() < 0.06:  # a code that expired, or a user who said no
            rows.sessions.append(_failed_attempt(c, ticket_id, technician, first))
        return ends
    start = first + timedelta(minutes=rng.randint(1, 30))
    for index in range(2 if rng.random() < 0.08 else 1):
        session_id = _session_id(ticket_id, index)
        requested = list(_pick(rng, PERMISSIONS))
        granted = [p for p in requested if p == "view" or rng.random() > 0.05]
        end = start + timedelta(minutes=rng.lognormvariate(2.3, 0.6))
        by_user = rng.random() < 0.2
        browser = rng.random() < 0.15
        rating = rng.choices([1, 2, 3, 4, 5], weights=[3, 4, 10, 35, 48])[0] if rng.random() < 0.4 else None
        rows.sessions.append(
            {
                "id": session_id,
                "ticket_id": ticket_id,
                "technician_id": technician,
                "code": None,
                "code_expires_at": start + timedelta(minutes=8),
                "code_digest": "",
                "status": "ended",
                "requested_permissions": requested,
                "granted_permissions": ["view"] if browser else granted,
                "sas_confirmed": not browser,
                "technician_sas_confirmed": not browser,
                "control_paused": False,
                "identity_confirmation": _pick(rng, IDENTITY),
                "identity_confirmed_at": start,
                "identity_required": False,
                "mode": "browser" if browser else "agent",
                "agent_address": f"10.20.{rng.randint(0, 40)}.{rng.randint(2, 250)}",
                "agent_platform": "Chrome"
                if browser
                else rng.choice(("Linux-6.12", "Windows-11", "Windows-10")),
                "created_at": start - timedelta(minutes=2),
                "joined_at": start - timedelta(minutes=1),
                "started_at": start,
                "ended_at": end,
                "ended_by": "user" if by_user else "technician",
                "end_reason": ("page_closed" if browser else "user_stopped") if by_user else "hangup",
                "resolution_note": "",
                "rating": rating,
                "rating_comment": rng.choice(texts.RATING_COMMENTS[rating])
                if rating and rng.random() < 0.3
                else "",
            }
        )
        if rating is not None:
            rows.ratings.append(_rating(c, ticket_id, session_id, end + timedelta(minutes=1), rating))
        ends.append(end)
        start = end + timedelta(hours=rng.uniform(1, 20))
    return ends


def _failed_attempt(c: _Context, ticket_id: int, technician: int | None, first: datetime) -> dict[str, Any]:
    rng = c.rng
    created = first + timedelta(minutes=rng.randint(1, 20))
    denied = rng.random() < 0.4
    return {
        "id": _session_id(ticket_id, 9),
        "ticket_id": ticket_id,
        "technician_id": technician,
        "code": None,
        "code_expires_at": created + timedelta(minutes=10),
        "code_digest": "",
        "status": "ended" if denied else "expired",
        "requested_permissions": ["view", "control"],
        "granted_permissions": [],
        "sas_confirmed": False,
        "technician_sas_confirmed": False,
        "control_paused": False,
        "identity_confirmation": "not_verified",
        "identity_confirmed_at": None,
        "identity_required": False,
        "mode": "agent",
        "agent_address": "",
        "agent_platform": "",
        "created_at": created,
        "joined_at": created + timedelta(minutes=2) if denied else None,
        "started_at": None,
        "ended_at": created + timedelta(minutes=3) if denied else created + timedelta(minutes=10),
        "ended_by": "user" if denied else None,
        "end_reason": "denied" if denied else "",
        "resolution_note": "",
        "rating": None,
        "rating_comment": "",
    }


def _rating(c: _Context, ticket_id: int, session_id: str | None, at: datetime, score: int) -> dict[str, Any]:
    rng = c.rng
    comment = rng.choice(texts.RATING_COMMENTS[score]) if rng.random() < 0.3 else ""
    return {
        "token_digest": _digest("rating", ticket_id, session_id or ""),
        "ticket_id": ticket_id,
        "session_id": session_id,
        "language": rng.choice(("en", "es")),
        "created_at": at,
        "score": score,
        "comment": comment,
        "rated_at": min(at + timedelta(minutes=rng.randint(1, 600)), c.now),
    }


def _write(conn: Connection, rows: _Rows) -> None:
    batches: list[tuple[type[Any], list[dict[str, Any]]]] = [
        (Ticket, rows.tickets),
        (RemoteSession, _only_columns(RemoteSession.__table__, rows.sessions)),
        (TicketChange, rows.changes),
        (TicketComment, rows.comments),
        (RatingRequest, rows.ratings),
    ]
    for table, chunk in batches:
        if chunk:
            conn.execute(insert(table), chunk)


def _only_columns(table: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop keys the table does not have (the session table grows with other features)."""
    names = set(table.columns.keys())
    return [{k: v for k, v in row.items() if k in names} for row in rows]


def _settle_sequences(conn: Connection) -> None:
    """Tickets got explicit ids: move PostgreSQL's sequence past them (SQLite needs nothing)."""
    if conn.dialect.name == "postgresql":
        sequence = "pg_get_serial_sequence('tickets', 'id')"
        conn.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM tickets))"))


def _analyze(engine: Engine) -> None:
    """Settle the database as a running one would be: planner statistics, vacuum.

    On PostgreSQL a bulk load leaves what autovacuum clears within minutes on a live server: the
    GIN index's pending list (every new row, scanned one by one by each search) and an empty
    visibility map (no index-only scans). Measuring before that would time the load, not veo,
    so this runs the ``VACUUM ANALYZE`` that PostgreSQL's guide advises after loading data.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
