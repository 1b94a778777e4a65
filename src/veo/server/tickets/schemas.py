"""REST shapes of tickets: what the API accepts and returns (and what OpenAPI documents)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

TicketStatus = Literal["new", "open", "waiting", "resolved", "closed"]
#: A ticket number in a URL: positive and within a 32-bit column, so a huge number is a clean 422.
TicketId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The ticket number.")]


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10000)
    requester_name: str = Field(min_length=1, max_length=200)
    requester_email: str = Field(min_length=3, max_length=320, examples=["ana@example.org"])


class TicketPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10000)
    requester_name: str | None = Field(default=None, min_length=1, max_length=200)
    requester_email: str | None = Field(default=None, min_length=3, max_length=320)
    status: TicketStatus | None = None


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str
    requester_name: str
    requester_email: str
    status: TicketStatus
    created_by_id: int | None
    assignee_id: int | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolution_note: str


class TicketPageOut(BaseModel):
    items: list[TicketOut]
    total: int
    page: int
    per_page: int
