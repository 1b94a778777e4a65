"""Every model, imported once so that Alembic and ``create_all`` see the whole schema."""

from veo.server.audit.models import AuditEvent
from veo.server.auth.models import (
    ApiToken,
    LoginChallenge,
    LoginFailures,
    RecoveryCode,
    TotpCredential,
    User,
    WebSession,
)
from veo.server.db.base import Base
from veo.server.policies.models import RolePolicyRow
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Ticket

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "LoginChallenge",
    "LoginFailures",
    "RecoveryCode",
    "RemoteSession",
    "RolePolicyRow",
    "Ticket",
    "TotpCredential",
    "User",
    "WebSession",
]
