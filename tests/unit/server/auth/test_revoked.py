"""Account changes are told only once their transaction commits, strongest reason first."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from veo.server.auth import revoked
from veo.server.db.engine import Database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'x.db'}")


def test_told_after_commit_with_the_strongest_reason(db: Database) -> None:
    told: list[list[revoked.Revocation]] = []
    revoked.listen(db.sessionmaker, told.append)
    with db.session() as s:
        revoked.note(s, [7], "signed_out_everywhere")
        revoked.note(s, [7, 8], "account_deactivated")
        revoked.note(s, [8], "policy_changed")
        assert told == []  # nothing before the commit
    strongest = [revoked.Revocation(7, "account_deactivated"), revoked.Revocation(8, "account_deactivated")]
    assert told == [strongest]
    with db.session() as s:
        s.execute(text("SELECT 1"))
    assert len(told) == 1  # a transaction that noted nothing tells nothing


def test_a_rolled_back_change_cuts_nothing(db: Database) -> None:
    told: list[list[revoked.Revocation]] = []
    revoked.listen(db.sessionmaker, told.append)
    with pytest.raises(RuntimeError), db.session() as s:
        revoked.note(s, [7], "account_deactivated")
        raise RuntimeError("refused")
    with db.session() as s:
        s.execute(text("SELECT 1"))
    assert told == []


def test_a_savepoint_rolled_back_keeps_the_outer_notes(db: Database) -> None:
    told: list[list[revoked.Revocation]] = []
    revoked.listen(db.sessionmaker, told.append)
    with db.session() as s:
        revoked.note(s, [7], "password_changed")
        nested = s.begin_nested()
        nested.rollback()
    assert told == [[revoked.Revocation(7, "password_changed")]]


def test_a_failing_listener_does_not_undo_the_answer(db: Database) -> None:
    def broken(_changes: list[revoked.Revocation]) -> None:
        raise RuntimeError("hub gone")

    revoked.listen(db.sessionmaker, broken)
    with db.session() as s:
        revoked.note(s, [7], "account_deactivated")  # the commit still succeeds
