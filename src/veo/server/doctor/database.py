"""Database reachable, and its schema at the newest migration.

Every node migrates at start, so a schema behind the code means no node of this version has
started against this database yet (or its migration failed); one ahead means this node runs an
older veo than the one that migrated, which happens mid-upgrade and must not last. The URL is
shown without its password. A SQLite file that does not exist is reported, never created.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, make_url, select, text
from sqlalchemy.exc import SQLAlchemyError

from veo.config import Settings
from veo.server.audit.models import AuditCheckpoint
from veo.server.db.migrate import alembic_config
from veo.server.db.unavailable import first_line
from veo.server.doctor.report import Finding, fail, ok, warn
from veo.server.lang import _

CHECK = "database"
CONNECT_TIMEOUT_SECONDS = 5


def shown_url(url: str) -> str:
    """The URL without its password (``***``), for a message an operator may paste anywhere."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return _("(the URL in VEO_DATABASE_URL cannot be read)")


@dataclass(frozen=True)
class Facts:
    """What the other checks need from the database: whether it answered, and which key signed
    its newest audit checkpoint (None: no checkpoint yet)."""

    reachable: bool = False
    newest_key_id: str | None = None


def check(settings: Settings) -> tuple[list[Finding], Facts]:
    url = settings.effective_database_url
    where = shown_url(url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return [
            fail(
                CHECK,
                _("there is no database at %(path)s.") % {"path": url.removeprefix("sqlite:///")},
                _(
                    "set VEO_DATABASE_URL (or --data-dir) as the nodes have it, or start veo once to "
                    "create it."
                ),
            )
        ], Facts()
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if url.startswith("postgresql") else {}
    try:
        engine = create_engine(url, connect_args=connect_args)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        return [
            fail(
                CHECK,
                _("VEO_DATABASE_URL cannot be used: %(error)s")
                % {"error": first_line(getattr(exc, "orig", None) or exc)},
                _("correct VEO_DATABASE_URL (for example postgresql+psycopg://veo@db/veo)."),
            )
        ], Facts()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
            facts = Facts(True, _newest_key_id(conn) if current else None)
    except SQLAlchemyError as exc:
        return [
            fail(
                CHECK,
                _("cannot reach the database %(url)s: %(error)s")
                % {"url": where, "error": first_line(getattr(exc, "orig", None) or exc)},
                _(
                    "check that the database server runs, that this host may connect to it, and the "
                    "user and password in VEO_DATABASE_URL."
                ),
            )
        ], Facts()
    finally:
        engine.dispose()
    return [ok(CHECK, _("reachable at %(url)s.") % {"url": where}), _migrations(url, current)], facts


def _newest_key_id(conn: Connection) -> str | None:
    try:
        newest = select(AuditCheckpoint.key_id).order_by(AuditCheckpoint.number.desc()).limit(1)
        return conn.execute(newest).scalar_one_or_none()
    except SQLAlchemyError:  # a schema too old to have the table: the migrations line says so
        return None


def _migrations(url: str, current: set[str]) -> Finding:
    scripts = ScriptDirectory.from_config(alembic_config(url))
    heads = set(scripts.get_heads())
    if current == heads:
        return ok(
            "migrations",
            _("the schema is at the newest revision (%(rev)s).") % {"rev": ", ".join(sorted(heads))},
        )
    if not current:
        return fail(
            "migrations",
            _("the database has no veo schema yet."),
            _("start a veo node (it migrates at start) or run `veo admin init`."),
        )
    known = {rev.revision for rev in scripts.walk_revisions()}
    if not current <= known:
        return warn(
            "migrations",
            _("the database is at revision %(rev)s, newer than this veo knows: a newer veo migrated it.")
            % {"rev": ", ".join(sorted(current - known))},
            _("upgrade this node to the version the other nodes run."),
        )
    return fail(
        "migrations",
        _("the schema is at %(rev)s, behind this veo's %(head)s.")
        % {"rev": ", ".join(sorted(current)), "head": ", ".join(sorted(heads))},
        _("restart one node of this version (it migrates at start) or run `veo admin init`."),
    )
