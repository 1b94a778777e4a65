"""JSON shapes of the session REST API (``/api/v1``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from veo.protocol import codes
from veo.server.sessions.models import RemoteSession


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: view, control, clipboard, files; default view and control.
    permissions: list[str] | None = Field(default=None, max_length=8)


class SessionCreated(BaseModel):
    id: str
    code: str
    code_display: str
    join_url: str
    expires_at: datetime
    status: str
    requested: list[str]


class TechnicianOut(BaseModel):
    id: int
    name: str
    email: str


class SessionOut(BaseModel):
    id: str
    ticket_id: int
    technician: TechnicianOut | None
    status: str
    #: agent (the installed app) or browser (shared from the join page, view only)
    mode: str
    #: when a browser share was continued by the agent (same session); null otherwise
    upgraded_at: datetime | None
    requested: list[str]
    granted: list[str]
    #: the user confirmed the code on the agent (pressed Allow under it)
    sas_confirmed: bool
    #: the technician clicked "Codes match"
    technician_sas_confirmed: bool
    #: the role's policy wanted the user's identity confirmed before control
    identity_required: bool
    #: how the user's identity was confirmed; null until the technician recorded it
    identity_confirmation: str | None
    control_paused: bool
    created_at: datetime
    joined_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str
    duration_seconds: int | None
    resolution_note: str

    @classmethod
    def of(cls, s: RemoteSession) -> SessionOut:
        tech = s.technician
        return cls(
            id=s.id,
            ticket_id=s.ticket_id,
            technician=TechnicianOut(id=tech.id, name=tech.name, email=tech.email) if tech else None,
            status=s.status,
            mode=s.mode,
            upgraded_at=s.upgraded_at,
            requested=list(s.requested_permissions),
            granted=list(s.granted_permissions),
            sas_confirmed=s.sas_confirmed,
            technician_sas_confirmed=s.technician_sas_confirmed,
            identity_required=s.identity_required,
            identity_confirmation=s.identity_confirmation if s.identity_confirmed_at else None,
            control_paused=s.control_paused,
            created_at=s.created_at,
            joined_at=s.joined_at,
            started_at=s.started_at,
            ended_at=s.ended_at,
            ended_by=s.ended_by,
            end_reason=s.end_reason,
            duration_seconds=s.duration_seconds,
            resolution_note=s.resolution_note,
        )


def join_url(public_url: str, code: str | None) -> str:
    return f"{public_url}/join?code={code}" if code else ""


def agent_command(public_url: str, code: str | None) -> str:
    return f"veo agent --server {public_url} --code {code}" if code else ""


def created(s: RemoteSession, public_url: str) -> SessionCreated:
    # A managed device's code is the device's alone (issue 17): never handed out by the API.
    code = (s.code or "") if s.device_id is None else ""
    return SessionCreated(
        id=s.id,
        code=code,
        code_display=codes.display(code),
        join_url=join_url(public_url, code),
        expires_at=s.code_expires_at,
        status=s.status,
        requested=list(s.requested_permissions),
    )
