"""REST shapes of tickets, comments and history: what the API accepts and returns (and documents)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from veo.server.api.params import MAX_ID, RowId

TicketStatus = Literal["new", "open", "waiting", "resolved", "closed"]
TicketPriority = Literal["low", "normal", "high", "urgent"]
TicketChannel = Literal["phone", "email", "portal", "walk_in"]
TicketSort = Literal["created", "-created", "updated", "-updated", "priority", "-priority"]
#: A ticket number in a URL: positive and within a 32-bit column, so a huge number is a clean 422.
TicketId = Annotated[RowId, Path(description="The ticket number.")]


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10000)
    requester_name: str = Field(min_length=1, max_length=200)
    requester_email: str = Field(min_length=3, max_length=320, examples=["ana@example.org"])
    requester_department: str = Field(default="", max_length=200, examples=["Accounting"])
    priority: TicketPriority = "normal"
    channel: TicketChannel = "portal"
    category_id: RowId | None = None
    assignee_id: RowId | None = Field(default=None, description="A technician's user id.")


class TicketPatch(BaseModel):
    """Only the fields sent change. ``status`` must follow the workflow (409 ``invalid_transition``)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10000)
    requester_name: str | None = Field(default=None, min_length=1, max_length=200)
    requester_email: str | None = Field(default=None, min_length=3, max_length=320)
    requester_department: str | None = Field(default=None, max_length=200)
    priority: TicketPriority | None = None
    channel: TicketChannel | None = None
    category_id: RowId | None = Field(default=None, description="null removes the category.")
    assignee_id: RowId | None = Field(default=None, description="null unassigns.")
    status: TicketStatus | None = None
    resolution_note: str | None = Field(default=None, max_length=10000)


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str
    requester_name: str
    requester_email: str
    requester_department: str
    status: TicketStatus
    priority: TicketPriority
    channel: TicketChannel
    category_id: int | None
    assignee_id: int | None
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    status_changed_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reopened_count: int
    resolution_note: str


class TicketPageOut(BaseModel):
    items: list[TicketOut]
    total: int = Field(description="Matching tickets, counted up to 10,000 (see total_exact).")
    total_exact: bool = Field(description="False when there are more than `total` matches.")
    page: int
    per_page: int


class TicketFilters(BaseModel):
    """Query parameters of the ticket list (documented in OpenAPI by FastAPI)."""

    q: str = Field(default="", max_length=200, description="Words in title, description or requester.")
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    category_id: RowId | None = None
    assignee_id: int | None = Field(default=None, ge=0, le=MAX_ID, description="0: unassigned.")
    created_from: date | None = Field(default=None, description="First day (UTC), inclusive.")
    created_to: date | None = Field(default=None, description="Last day (UTC), inclusive.")
    sort: TicketSort = Field(default="-created", description="A leading '-' sorts descending.")
    page: int = Field(default=1, ge=1, le=100000)
    per_page: int = Field(default=25, ge=1, le=100)


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=10000)
    public: bool = Field(
        default=False, description="true: a reply the requester sees; false: an internal note."
    )


class CommentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_id: int
    author_id: int | None
    body: str
    public: bool
    created_at: datetime


class ChangeOut(BaseModel):
    """One field changed; values are text (ids for category and assignee), null for none."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_id: int
    actor_id: int | None
    at: datetime
    field: str
    old: str | None
    new: str | None
