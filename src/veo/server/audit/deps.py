"""Who may read the audit log: admins and leads everything; the rest only a ticket's trail.

The role is the account's role name (``user.role``); policies per role may come to decide it,
this module is the one place that asks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends

from veo.server.audit.query import may_read_everything
from veo.server.auth.deps import CurrentUser
from veo.server.auth.models import User
from veo.server.errors import ApiError, InvalidInput
from veo.server.lang import _


def forbidden() -> ApiError:
    return ApiError(403, "forbidden", _("Only administrators and leads may read the whole audit log."))


async def auditor(user: CurrentUser) -> User:
    if not may_read_everything(user.role):
        raise forbidden()
    return user


Auditor = Annotated[User, Depends(auditor)]


def as_utc(value: datetime | None, field: str) -> datetime | None:
    """A time filter in UTC; out-of-range offsets are the client's error, not the server's."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput({field: _("this time is out of range")}) from None
