"""``veo doctor``'s database line on SQLite and on PostgreSQL: at head, empty, behind, ahead.

Each case is a real database in that state (a fresh PostgreSQL database per case, on the
machine's server), and the doctor's finding must say which state it is and what to do.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy import text as sql

from veo.config import Settings
from veo.server.db.migrate import alembic_config
from veo.server.doctor import database
from veo.server.doctor.report import Status


def check(url: str, tmp_path: Path) -> dict[str, tuple[Status, str, str]]:
    findings, facts = database.check(Settings(data_dir=tmp_path / "data", database_url=url))
    assert facts.reachable is (findings[0].status is Status.OK)
    return {f.check: (f.status, f.text, f.advice) for f in findings}


def test_a_migrated_database_is_at_the_newest_revision(database_url: str, tmp_path: Path) -> None:
    found = check(database_url, tmp_path)
    assert found["database"][0] is Status.OK
    status, text, _advice = found["migrations"]
    assert status is Status.OK and text.startswith("the schema is at the newest revision ("), text


def test_an_empty_database_has_no_schema(blank_database_url: str, tmp_path: Path) -> None:
    if blank_database_url.startswith("sqlite:///"):
        Path(blank_database_url.removeprefix("sqlite:///")).touch()
    status, text, advice = check(blank_database_url, tmp_path)["migrations"]
    assert (status, text) == (Status.FAIL, "the database has no veo schema yet."), text
    assert "veo admin init" in advice


def test_a_database_one_revision_behind_is_named(blank_database_url: str, tmp_path: Path) -> None:
    scripts = ScriptDirectory.from_config(alembic_config(blank_database_url))
    (head,) = scripts.get_heads()
    previous = scripts.get_revision(head).down_revision
    earlier = previous[0] if isinstance(previous, tuple) else previous
    assert isinstance(earlier, str)
    command.upgrade(alembic_config(blank_database_url, tmp_path / "data"), earlier)
    status, text, advice = check(blank_database_url, tmp_path)["migrations"]
    assert status is Status.FAIL, text
    assert text == f"the schema is at {earlier}, behind this veo's {head}.", text
    assert "it migrates at start" in advice


def set_version(url: str, revision: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sql("UPDATE alembic_version SET version_num = :rev"), {"rev": revision})
    finally:
        engine.dispose()


def test_a_database_a_newer_veo_migrated_is_named(database_url: str, tmp_path: Path) -> None:
    (head,) = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    set_version(database_url, "f00dfeed0001")
    try:
        status, text, advice = check(database_url, tmp_path)["migrations"]
    finally:
        set_version(database_url, head)  # the session's PostgreSQL database is shared
    assert status is Status.WARN, text
    assert text.startswith("the database is at revision f00dfeed0001, newer than this veo knows"), text
    assert advice == "upgrade this node to the version the other nodes run."
