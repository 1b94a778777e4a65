"""Sign-in housekeeping runs every 30 s on every node: a database restart is one warning line
per pass and step, without a trace; any other failure keeps its trace."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from veo.server.auth import housekeeping
from veo.server.db.engine import Database


async def test_database_down_is_one_line_per_step_and_a_bug_keeps_its_trace(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = Database(f"sqlite:///{tmp_path}/missing-dir/veo.db")  # SQLite cannot open it
    try:
        with caplog.at_level(logging.WARNING, logger=housekeeping.__name__):
            await housekeeping.tidy(unreachable)
        down = [r for r in caplog.records if r.name == housekeeping.__name__]
        # (the refusal summaries step asks the database only when a summary is due: none here)
        assert [(r.levelno, r.getMessage().split(": ")[0]) for r in down] == [
            (logging.WARNING, "dropping stale sign-in counters skipped")
        ]
        assert "database unavailable" in down[0].getMessage() and not down[0].exc_info

        async def broken(_work: Any) -> Any:
            raise ValueError("a bug")

        monkeypatch.setattr(unreachable, "run", broken)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=housekeeping.__name__):
            await housekeeping.tidy(unreachable)
        bug = [r for r in caplog.records if r.name == housekeeping.__name__]
        assert [r.levelno for r in bug] == [logging.ERROR, logging.ERROR]
        assert all(r.exc_info and isinstance(r.exc_info[1], ValueError) for r in bug)
    finally:
        unreachable.dispose()
