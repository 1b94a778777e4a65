"""Transactions that retry when a concurrent audit append won the race.

The audit log serializes appends through its unique ``seq``: two sessions writing at the same
moment both read the same head and one insert fails. The whole unit of work is then run again
(it reads the new head), as the audit module's contract says the loser must.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from veo.server.db.engine import Database

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTEMPTS = 5


async def run(db: Database, work: Callable[[Session], T]) -> T:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await db.run(work)
        except IntegrityError:
            if attempt == ATTEMPTS:
                raise
            log.info("transaction lost a race (attempt %d), retrying", attempt)
    raise AssertionError("unreachable")
