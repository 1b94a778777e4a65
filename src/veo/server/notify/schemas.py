"""JSON shapes of the notification API: ratings, the outbox, webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from veo.server.notify.models import OutboxMessage, RatingRequest, WebhookEndpoint


class RatingIn(BaseModel):
    """The agent's answer. ``score`` is checked by the service so every bad value gets one message."""

    token: Annotated[str, Field(min_length=1, max_length=200, description="The rating token from `joined`.")]
    score: Any = Field(description="A whole number from 1 to 5.", json_schema_extra={"type": "integer"})
    comment: Any = Field(default="", description="Optional, up to 2000 characters.")


class RatingOut(BaseModel):
    ticket_id: int
    session_id: str | None
    score: int | None
    comment: str
    rated_at: datetime | None

    @classmethod
    def of(cls, request: RatingRequest) -> RatingOut:
        return cls(
            ticket_id=request.ticket_id,
            session_id=request.session_id,
            score=request.score,
            comment=request.comment,
            rated_at=request.rated_at,
        )


class OutboxOut(BaseModel):
    """One queued e-mail or webhook delivery and where it stands."""

    id: int
    kind: str
    event: str
    ticket_id: int | None
    webhook_id: int | None
    recipient: str
    status: str = Field(description="pending, sent or failed")
    attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, m: OutboxMessage) -> OutboxOut:
        return cls(
            id=m.id,
            kind=m.kind,
            event=m.event,
            ticket_id=m.ticket_id,
            webhook_id=m.webhook_id,
            recipient=m.recipient,
            status=m.status,
            attempts=m.attempts,
            next_attempt_at=m.next_attempt_at,
            last_error=m.last_error,
            created_at=m.created_at,
            sent_at=m.sent_at,
        )


class OutboxPageOut(BaseModel):
    items: list[OutboxOut]
    total: int
    limit: int
    offset: int


class WebhookIn(BaseModel):
    url: Any = Field(
        default=None, description="http:// or https:// address, e.g. your helpdesk's webhook receiver."
    )
    events: Any = Field(default=None, description='Event names to send, e.g. ["ticket.created"].')
    secret: Any = Field(default=None, description="16-200 characters; random when left out.")


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, e: WebhookEndpoint) -> WebhookOut:
        return cls(id=e.id, url=e.url, events=list(e.events), active=e.active, created_at=e.created_at)


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Shown only now: the key receivers check `X-Veo-Signature` with.")
