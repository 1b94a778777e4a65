"""Realistic help-desk data for the bench, written in bulk (multi-row inserts, no ORM objects).

A year of tickets with a weekday rhythm, twelve categories whose titles repeat with small
variations (so recurring-problem clusters have something to find), a priority and channel mix,
response and resolution times drawn from log-normal distributions (most fast, a long tail), remote
sessions on a third of the resolved tickets (which resolve faster), reopenings, waits on the user,
status history and ratings. The random generator is seeded: the same count gives the same data.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text

from veo.server.auth.models import User
from veo.server.notify.models import RatingRequest
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Category, Ticket, TicketChange

CHUNK = 5000
TECHNICIANS = 20
PROBLEMS: dict[str, list[tuple[str, str]]] = {
    "Printing": [
        ("Printer on floor {n} jams", "Paper jam error again on the {thing} printer"),
        ("Cannot print to {thing}", "Print jobs stay in the queue and nothing comes out"),
        ("Toner empty on floor {n}", "The printer says toner low, replacement needed"),
    ],
    "Network": [
        ("VPN does not connect", "The VPN client fails to connect from home since {day}"),
        ("Wi-Fi drops in room {n}", "Wireless connection drops every few minutes"),
        ("No puedo conectar la VPN", "La VPN no conecta desde casa desde el {day}"),
    ],
    "E-mail": [
        ("Outlook keeps asking for password", "Outlook asks for the password every time it starts"),
        ("Mailbox full", "Cannot send e-mail, the mailbox is over its quota"),
    ],
    "Accounts": [
        ("Password expired", "I need to reset my password, it expired on {day}"),
        ("Account locked", "My account is locked after too many attempts"),
    ],
    "Hardware": [
        ("Laptop does not turn on", "The laptop shows no light when the power button is pressed"),
        ("Second monitor flickers", "The second screen flickers when connected to the dock"),
    ],
    "Software install": [("Install {thing}", "Please install {thing} on my computer")],
    "Phones": [("Desk phone has no line", "No dial tone on the desk phone in room {n}")],
    "Access": [("Need access to {thing} share", "Please give me access to the {thing} folder")],
    "Video calls": [("Camera not detected in calls", "The camera is not found in video calls")],
    "Slow computer": [("Computer very slow", "Everything takes minutes to open since the update")],
    "Files": [("Lost a file on {thing}", "I deleted a file on the {thing} drive by mistake")],
    "Other": [("Question about {thing}", "How do I use {thing}?")],
}
THINGS = ["finance", "sales", "HR", "Excel", "Teams", "SAP", "Acrobat", "marketing", "legal", "Zoom"]
DAYS = ["Monday", "Tuesday", "yesterday", "the update", "last week"]
FIRST = ["Ana", "Luis", "Marta", "John", "Sofía", "Pedro", "Laura", "Tom", "Elena", "Raúl", "Kim", "Carmen"]
LAST = ["García", "Smith", "López", "Martín", "Brown", "Sánchez", "Pérez", "Jones", "Díaz", "Moreno"]
DEPARTMENTS = ["Sales", "Finance", "HR", "Legal", "Operations", "Marketing", "Reception"]
PRIORITIES = (("low", 20), ("normal", 55), ("high", 20), ("urgent", 5))
CHANNELS = (("phone", 40), ("email", 30), ("portal", 25), ("walk_in", 5))


@dataclass(frozen=True)
class Generated:
    tickets: int
    sessions: int
    changes: int
    ratings: int
    lead_email: str


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _w in weighted], weights=[w for _v, w in weighted])[0]


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def _bulk(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for chunk in _chunks(rows):
            conn.execute(insert(table), chunk)


def generate(engine: Engine, count: int, *, now: datetime | None = None, seed: int = 7) -> Generated:
    """Write ``count`` tickets (and what goes with them) into the migrated, empty database."""
    from veo.server.auth.passwords import hash_password

    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    password_hash = hash_password(BENCH_PASSWORD)
    users = [
        {
            "id": i + 1,
            "email": f"tech{i + 1}@bench.example" if i else LEAD_EMAIL,
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}" if i else "Bench Lead",
            "role": "technician" if i else "lead",
            "password_hash": password_hash,
            "must_change_password": False,
            "is_active": True,
            "created_at": now - timedelta(days=400),
        }
        for i in range(TECHNICIANS + 1)
    ]
    _bulk(engine, User.__table__, users)
    names = list(PROBLEMS)
    _bulk(
        engine,
        Category.__table__,
        [{"id": i + 1, "name": n, "created_at": now - timedelta(days=400)} for i, n in enumerate(names)],
    )
    tickets: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    category_weights = [math.exp(-i / 4) for i in range(len(names))]  # a few categories dominate
    for ticket_id in range(1, count + 1):
        created = now - timedelta(days=365 * rng.random() ** 1.1, minutes=rng.randint(0, 600))
        if created.weekday() >= 5 and rng.random() < 0.7:  # fewer tickets at weekends
            created -= timedelta(days=2)
        category = rng.choices(range(len(names)), weights=category_weights)[0]
        title, body = rng.choice(PROBLEMS[names[category]])
        words = {"n": rng.randint(1, 6), "thing": rng.choice(THINGS), "day": rng.choice(DAYS)}
        assignee = rng.randint(2, TECHNICIANS + 1)
        first = created + timedelta(minutes=rng.lognormvariate(3.0, 1.0))
        has_session = rng.random() < 0.35
        hours = rng.lognormvariate(1.5, 1.2) * (0.4 if has_session else 1.0)
        resolved = created + timedelta(hours=hours)
        roll = rng.random()
        status = "new" if roll < 0.05 else "open" if roll < 0.12 else "waiting" if roll < 0.18 else "resolved"
        if status == "resolved" and resolved < now - timedelta(days=3) and rng.random() < 0.6:
            status = "closed"
        done = status in ("resolved", "closed") and resolved < now
        if not done and status in ("resolved", "closed"):
            status = "open"
        waited = status == "waiting" or (done and rng.random() < 0.12)
        tickets.append(
            {
                "id": ticket_id,
                "title": title.format(**words),
                "description": body.format(**words),
                "requester_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                "requester_email": f"user{rng.randint(1, 3000)}@corp.example",
                "requester_department": rng.choice(DEPARTMENTS),
                "status": status,
                "priority": _pick(rng, PRIORITIES),
                "channel": _pick(rng, CHANNELS),
                "category_id": category + 1,
                "created_by_id": assignee,
                "assignee_id": assignee,
                "created_at": created,
                "updated_at": resolved if done else first if status != "new" else created,
                "first_response_at": None if status == "new" else min(first, now),
                "status_changed_at": resolved if done else created,
                "resolved_at": resolved if done else None,
                "closed_at": resolved + timedelta(days=3) if status == "closed" else None,
                "reopened_count": 1 if done and rng.random() < 0.06 else 0,
                "resolution_note": "Fixed." if done else "",
            }
        )
        if waited:
            changes.append(_change(ticket_id, assignee, first, "open", "waiting"))
        if done:
            changes.append(_change(ticket_id, assignee, resolved, "open", "resolved"))
        if has_session and status != "new":
            start = first + timedelta(minutes=rng.randint(1, 30))
            session_id = str(uuid.UUID(int=rng.getrandbits(128)))
            rating = (
                rng.choices([1, 2, 3, 4, 5], weights=[3, 4, 10, 35, 48])[0] if rng.random() < 0.4 else None
            )
            sessions.append(
                {
                    "id": session_id,
                    "ticket_id": ticket_id,
                    "technician_id": assignee,
                    "code": None,
                    "code_expires_at": start,
                    "code_digest": "",
                    "status": "ended",
                    "requested_permissions": ["view", "control"],
                    "granted_permissions": ["view", "control"],
                    "sas_confirmed": True,
                    "technician_sas_confirmed": True,
                    "control_paused": False,
                    "identity_confirmation": "join_link_email",
                    "identity_confirmed_at": start,
                    "identity_required": False,
                    "agent_address": "10.0.0.1",
                    "agent_platform": "linux",
                    "created_at": start - timedelta(minutes=2),
                    "joined_at": start - timedelta(minutes=1),
                    "started_at": start,
                    "ended_at": start + timedelta(minutes=rng.lognormvariate(2.3, 0.6)),
                    "ended_by": "technician",
                    "end_reason": "",
                    "resolution_note": "",
                    "rating": rating,
                    "rating_comment": "",
                }
            )
            if rating is not None:
                ratings.append(
                    {
                        "token_digest": hashlib.sha256(session_id.encode()).hexdigest(),
                        "ticket_id": ticket_id,
                        "session_id": session_id,
                        "language": "en",
                        "created_at": start,
                        "score": rating,
                        "comment": "",
                        "rated_at": start + timedelta(hours=1),
                    }
                )
    _bulk(engine, Ticket.__table__, tickets)
    _bulk(engine, RemoteSession.__table__, _only_columns(RemoteSession.__table__, sessions))
    _bulk(engine, TicketChange.__table__, changes)
    _bulk(engine, RatingRequest.__table__, ratings)
    _after_bulk(engine)
    return Generated(len(tickets), len(sessions), len(changes), len(ratings), LEAD_EMAIL)


LEAD_EMAIL = "lead@bench.example"
#: Only ever used on a throwaway database.
BENCH_PASSWORD = "bench password, not secret"


def _change(ticket_id: int, actor: int, at: datetime, old: str, new: str) -> dict[str, Any]:
    return {"ticket_id": ticket_id, "actor_id": actor, "at": at, "field": "status", "old": old, "new": new}


def _only_columns(table: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop keys the table does not have (the session table grows with other features)."""
    names = set(table.columns.keys())
    return [{k: v for k, v in row.items() if k in names} for row in rows]


def _after_bulk(engine: Engine) -> None:
    """Settle the database as a running one would be: id sequences, planner statistics, vacuum.

    On PostgreSQL a bulk load leaves what autovacuum clears within minutes on a live server: the
    GIN index's pending list (every new row, scanned one by one by each search) and an empty
    visibility map (no index-only scans). Measuring before that would time the load, not veo,
    so the bench runs the ``VACUUM ANALYZE`` that PostgreSQL's guide advises after loading data.
    """
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("users", "ticket_categories", "tickets"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                conn.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
