"""CSV rows a spreadsheet shows but never runs, and the role rule for the whole log."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from veo.server.audit.models import AuditEvent
from veo.server.audit.query import csv_header, csv_rows, may_read_everything


def test_formula_cells_are_neutralised() -> None:
    event = AuditEvent(
        seq=1,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        actor='=HYPERLINK("http://x")',
        action="auth.login_failed",
        ticket_id=None,
        session_id=None,
        address="+1",
        details={"email": "@sum(1)"},
        prev_hash="0" * 64,
        hash="f" * 64,
    )
    rows = list(csv.DictReader(io.StringIO(csv_header() + csv_rows([event]))))
    assert rows[0]["actor"] == '\'=HYPERLINK("http://x")' and rows[0]["address"] == "'+1"
    assert rows[0]["details"] == '{"email": "@sum(1)"}' and rows[0]["seq"] == "1"


def test_only_admins_and_leads_read_everything() -> None:
    assert may_read_everything("admin") and may_read_everything("lead")
    assert not may_read_everything("technician") and not may_read_everything("")
