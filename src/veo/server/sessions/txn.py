"""Transactions that run again when they lost a race on a unique constraint.

Audit appends no longer race (``audit.service.record`` serializes them with a lock), but other
unique values are still drawn optimistically: a fresh join code, a rating recorded twice at the
same moment. The whole unit of work is then run again and reads what the winner stored.
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
