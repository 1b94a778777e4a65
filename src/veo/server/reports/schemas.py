"""REST shapes of pilots and feedback (the report itself is served from its dataclasses)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from veo.server.api.params import RowId
from veo.server.reports.pilot import PilotComparison


class PilotCreate(BaseModel):
    """Dates as ``YYYY-MM-DD``; checked by the service so the form and the API say the same."""

    name: str = Field(max_length=10000, examples=["Remote support pilot, floor 2"])
    starts_on: str = Field(max_length=100, examples=["2026-03-02"])
    ends_on: str = Field(max_length=100, examples=["2026-04-30"])
    member_ids: list[RowId] = Field(max_length=1000, examples=[[3, 7]])


class PilotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    starts_on: date
    ends_on: date
    member_ids: list[int]


class PilotDetailOut(PilotOut):
    comparison: PilotComparison


class FeedbackCreate(BaseModel):
    score: int = Field(ge=1, le=5, examples=[4])
    comment: str = Field(default="", max_length=20000)


class FeedbackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int | None
    pilot_id: int | None
    created_at: datetime
    score: int
    comment: str
