"""Every model, imported once so that Alembic and ``create_all`` see the whole schema."""

from veo.server.audit.models import AuditCheckpoint, AuditEvent
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
from veo.server.devices.models import Device, DeviceGroup, EnrolmentToken
from veo.server.files.models import TicketAttachment
from veo.server.notify.models import OutboxMessage, RatingRequest, RequesterLanguage, WebhookEndpoint
from veo.server.policies.models import RolePolicyRow
from veo.server.reports.models import Pilot, PilotMember, ToolFeedback
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Category, Ticket, TicketChange, TicketComment

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "Base",
    "Category",
    "Device",
    "DeviceGroup",
    "EnrolmentToken",
    "LoginChallenge",
    "LoginFailures",
    "OutboxMessage",
    "Pilot",
    "PilotMember",
    "RatingRequest",
    "RecoveryCode",
    "RemoteSession",
    "RequesterLanguage",
    "RolePolicyRow",
    "Ticket",
    "TicketAttachment",
    "TicketChange",
    "TicketComment",
    "ToolFeedback",
    "TotpCredential",
    "User",
    "WebSession",
    "WebhookEndpoint",
]
