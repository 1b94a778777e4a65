"""Reading the audit log: one filter shape for the page, the CSV download and the REST API.

Filters combine with AND: exact action, actor (case-insensitive), ticket, remote session, and a
time range (``since`` inclusive, ``until`` exclusive). Pages are numbered; the CSV walks the
whole result by ``seq`` in batches, so an export of a large log never sits in memory at once.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from veo.server.audit.models import AuditEvent

AUDITOR_ROLES = frozenset({"admin", "lead"})
CSV_COLUMNS = ("seq", "at", "actor", "action", "ticket_id", "session_id", "address", "details", "hash")
#: A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def may_read_everything(role: str) -> bool:
    """Admins and leads read the whole log; others only a ticket's or a session's trail."""
    return role in AUDITOR_ROLES


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    ticket_id: int | None = None
    session_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def scoped(self) -> bool:
        """True when limited to one ticket or session (what any technician may read)."""
        return self.ticket_id is not None or self.session_id is not None

    def apply(self, query: Select[AuditEvent]) -> Select[AuditEvent]:
        if self.action:
            query = query.where(AuditEvent.action == self.action)
        if self.actor:
            query = query.where(func.lower(AuditEvent.actor) == self.actor.lower())
        if self.ticket_id is not None:
            query = query.where(AuditEvent.ticket_id == self.ticket_id)
        if self.session_id:
            query = query.where(AuditEvent.session_id == self.session_id)
        if self.since is not None:
            query = query.where(AuditEvent.at >= self.since)
        if self.until is not None:
            query = query.where(AuditEvent.at < self.until)
        return query


@dataclass(frozen=True)
class EventPage:
    items: list[AuditEvent]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def find(db: Session, where: AuditFilter, *, page: int, per_page: int, newest_first: bool) -> EventPage:
    query = where.apply(select(AuditEvent))
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = AuditEvent.seq.desc() if newest_first else AuditEvent.seq
    rows = db.scalars(query.order_by(order).offset((page - 1) * per_page).limit(per_page))
    return EventPage(list(rows), total, page, per_page)


def batch_after(db: Session, where: AuditFilter, after_seq: int, size: int = 1000) -> list[AuditEvent]:
    """The next ``size`` matching events with ``seq > after_seq`` (keyset paging for the CSV)."""
    query = where.apply(select(AuditEvent)).where(AuditEvent.seq > after_seq)
    return list(db.scalars(query.order_by(AuditEvent.seq).limit(size)))


def actions(db: Session) -> list[str]:
    """Every action name in the log, for the filter's choices."""
    return list(db.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_header() -> str:
    return _csv_line(CSV_COLUMNS)


def csv_rows(events: Iterable[AuditEvent]) -> str:
    lines = []
    for e in events:
        details = json.dumps(e.details, ensure_ascii=False, sort_keys=True)
        row = (
            e.seq,
            e.at.isoformat(),
            e.actor,
            e.action,
            e.ticket_id,
            e.session_id,
            e.address,
            details,
            e.hash,
        )
        lines.append(_csv_line([_cell(v) for v in row]))
    return "".join(lines)


def _csv_line(values: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()
