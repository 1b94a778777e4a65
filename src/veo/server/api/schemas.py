"""Shapes shared by every REST route: the error body, documented once for OpenAPI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    """What every failed request returns: a stable code for programs, a message for people."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["Ticket 7 does not exist."])


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        401: "Not signed in, or the bearer token is invalid or expired (`not_authenticated`).",
        403: "Signed in but not allowed (`forbidden`, `password_change_required`, `csrf_failed`).",
        404: "No such resource (`not_found`).",
        413: "Body larger than 1 MiB (`request_too_large`).",
        422: "Invalid input; the message names the field (`invalid_request`).",
    }
    return {status: {"model": ErrorOut, "description": descriptions[status]} for status in statuses}
