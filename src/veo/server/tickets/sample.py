"""Realistic sample tickets in bulk, for benchmarks and demos (never used by the running server).

``generate(db, count)`` inserts ``count`` tickets spread over the past year with plausible
titles, requesters, departments, categories, priorities and a consistent lifecycle (first
response before resolution before closing, status history rows). Deterministic for a seed, so
two benchmark runs measure the same data. Bulk inserts in batches keep 100,000 rows to seconds.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from veo.server.auth.models import User
from veo.server.tickets.models import Category, Ticket, TicketChange

CATEGORIES = ("Printers", "Network", "E-mail", "Accounts and passwords", "Hardware", "Software", "Telephony")
PROBLEMS = {
    "Printers": (
        "Printer does not print",
        "Paper jam on tray 2",
        "Printer shows offline",
        "Scanner to e-mail fails",
    ),
    "Network": (
        "VPN drops every hour",
        "No Wi-Fi in meeting room",
        "Shared drive not reachable",
        "Slow internet",
    ),
    "E-mail": (
        "Outlook keeps asking for password",
        "Mailbox full",
        "Cannot send attachments",
        "Calendar not syncing",
    ),
    "Accounts and passwords": (
        "Password expired",
        "Account locked",
        "Two-factor code not arriving",
        "New starter account",
    ),
    "Hardware": (
        "Laptop does not boot",
        "Second monitor flickers",
        "Keyboard keys stuck",
        "Docking station no video",
    ),
    "Software": ("Excel crashes on open", "Update failed", "Licence expired", "Install accounting software"),
    "Telephony": (
        "Desk phone no dial tone",
        "Voicemail not working",
        "Headset not detected",
        "Softphone echo",
    ),
}
DETAILS = (
    "Since this morning.",
    "Happens after the latest update.",
    "The user restarted already, no change.",
    "Urgent: a customer meeting at noon.",
    "Several people on the same floor report it.",
    "Error message on screen, photo attached to the phone call.",
)
FIRST = (
    "Ana",
    "Bob",
    "Carla",
    "David",
    "Elena",
    "Fran",
    "Gema",
    "Hugo",
    "Inés",
    "Javier",
    "Karen",
    "Luis",
    "Marta",
)
LAST = (
    "García",
    "López",
    "Smith",
    "Martín",
    "Ruiz",
    "Díaz",
    "Moreno",
    "Jones",
    "Navarro",
    "Torres",
    "Romero",
)
DEPARTMENTS = ("Accounting", "Sales", "Human resources", "Legal", "Warehouse", "Reception", "Management", "")
PRIORITIES = (("low", 20), ("normal", 55), ("high", 20), ("urgent", 5))
CHANNELS = (("phone", 45), ("email", 30), ("portal", 20), ("walk_in", 5))
STATUSES = (("new", 4), ("open", 8), ("waiting", 4), ("resolved", 14), ("closed", 70))
BATCH = 2000


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _w in weighted], weights=[w for _v, w in weighted])[0]


def _categories(db: Session) -> list[Category]:
    existing = {c.name: c for c in db.scalars(select(Category))}
    for name in CATEGORIES:
        if name not in existing:
            existing[name] = Category(name=name)
            db.add(existing[name])
    db.flush()
    return [existing[name] for name in CATEGORIES]


def _ticket_row(
    rng: random.Random, now: datetime, categories: list[Category], techs: list[int]
) -> dict[str, Any]:
    category = rng.choice(categories)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    created = now - timedelta(seconds=rng.randint(0, 365 * 86400))
    status = _pick(rng, STATUSES)
    answered = status != "new"
    first_response = created + timedelta(minutes=rng.randint(2, 600)) if answered else None
    done = status in ("resolved", "closed")
    resolved = (
        first_response + timedelta(minutes=rng.randint(5, 5 * 1440)) if done and first_response else None
    )
    closed = resolved + timedelta(days=rng.randint(1, 7)) if status == "closed" and resolved else None
    waiting = (
        first_response + timedelta(minutes=rng.randint(1, 240))
        if status == "waiting" and first_response
        else None
    )
    last_change = closed or resolved or waiting or first_response or created
    return {
        "title": rng.choice(PROBLEMS[category.name]),
        "description": rng.choice(DETAILS),
        "requester_name": f"{first} {last}",
        "requester_email": f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.org",
        "requester_department": rng.choice(DEPARTMENTS),
        "status": status,
        "priority": _pick(rng, PRIORITIES),
        "channel": _pick(rng, CHANNELS),
        "category_id": category.id,
        "assignee_id": rng.choice(techs) if techs and answered else None,
        "created_at": created,
        "updated_at": min(last_change, now),
        "first_response_at": first_response,
        "status_changed_at": last_change if status != "new" else None,
        "resolved_at": resolved,
        "closed_at": closed,
        "reopened_count": 1 if done and rng.random() < 0.06 else 0,
        "resolution_note": "Fixed." if done else "",
    }


def _status_changes(ticket_id: int, row: dict[str, Any]) -> list[dict[str, Any]]:
    steps = [("new", "open", row["first_response_at"])]
    if row["resolved_at"] is not None:
        steps.append(("open", "resolved", row["resolved_at"]))
    if row["closed_at"] is not None:
        steps.append(("resolved", "closed", row["closed_at"]))
    if row["status"] in ("new",):
        return []
    if row["status"] == "waiting":
        steps.append(("open", "waiting", row["status_changed_at"]))
    return [
        {
            "ticket_id": ticket_id,
            "actor_id": row["assignee_id"],
            "at": at,
            "field": "status",
            "old": old,
            "new": new,
        }
        for old, new, at in steps
        if at is not None
    ]


def generate(db: Session, count: int, *, seed: int = 1, now: datetime | None = None) -> int:
    """Insert ``count`` tickets (and their status history); returns how many were inserted."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    categories = _categories(db)
    techs = list(db.scalars(select(User.id).where(User.is_active.is_(True))))
    done = 0
    while done < count:
        rows = [_ticket_row(rng, now, categories, techs) for _ in range(min(BATCH, count - done))]
        ids = list(db.scalars(insert(Ticket).returning(Ticket.id, sort_by_parameter_order=True), rows))
        changes = [change for tid, row in zip(ids, rows, strict=True) for change in _status_changes(tid, row)]
        if changes:
            db.execute(insert(TicketChange), changes)
        done += len(rows)
    return done
