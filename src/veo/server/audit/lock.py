"""One writer at a time at the head of the audit chain.

Every append reads the head (seq, hash) and writes the next entry; two transactions doing that at
once would both read the same head. Retrying the loser is not possible from inside ``record()``
(the caller's transaction may already hold other work), so appends are serialized instead, and the
head is read only after the lock is held:

- PostgreSQL: ``pg_advisory_xact_lock`` on one fixed key; released at commit or rollback. Under
  READ COMMITTED the next statement then sees the winner's committed entry.
- SQLite: the database's write lock. pysqlite opens a transaction only at the first INSERT/UPDATE/
  DELETE; if none ran yet, ``BEGIN IMMEDIATE`` takes the write lock before the head is read (a
  deferred transaction could read a stale head and then fail to upgrade). If one ran, the
  transaction already holds the write lock, and no other writer can have committed since.

Locks taken after this one (by the caller, later in the same transaction) are held in a fixed
order only if callers record last; the services do: they change their rows, then record.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

#: Arbitrary but fixed: "veo-audit" as a signed 64-bit number.
ADVISORY_KEY = 0x7665_6F2D_6175_6469


def serialize_appends(db: Session) -> None:
    """Block until this transaction is the only one that may append to the audit log."""
    connection = db.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_KEY})
    elif dialect == "sqlite":
        raw = connection.connection.dbapi_connection
        if not getattr(raw, "in_transaction", True):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
