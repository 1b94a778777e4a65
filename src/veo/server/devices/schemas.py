"""REST shapes of device groups, enrolment tokens, devices and connecting to a device."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from veo.protocol.device import DevicePolicy
from veo.server.api.params import RowId
from veo.server.devices import service, tokens
from veo.server.devices.models import Device, DeviceGroup, EnrolmentToken

GroupId = Annotated[RowId, Path(description="The device group's id.")]
DeviceIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The device's id.")]
TokenIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The enrolment token's id.")]


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80, examples=["Reception PCs"])
    policy: DevicePolicy = "ask"
    #: Roles whose members see these devices and may connect (admins always may).
    roles: list[str] = Field(default_factory=list, max_length=10)
    description: str = Field(default="", max_length=1000)


class GroupOut(BaseModel):
    id: int
    name: str
    description: str
    policy: str
    roles: list[str]
    created_at: datetime

    @classmethod
    def of(cls, g: DeviceGroup) -> GroupOut:
        return cls(
            id=g.id,
            name=g.name,
            description=g.description,
            policy=g.policy,
            roles=list(g.roles),
            created_at=g.created_at,
        )


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_id: RowId
    label: str = Field(default="", max_length=120)
    #: Devices enrolled with it may be reached unattended (when their group's policy allows it).
    unattended: bool = False
    ttl_hours: int = Field(default=tokens.DEFAULT_TTL_HOURS, ge=1, le=tokens.MAX_TTL_HOURS)


class TokenOut(BaseModel):
    id: str
    group_id: int
    group: str
    label: str
    unattended: bool
    created_by: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_by_device_id: str | None
    revoked_at: datetime | None
    #: active, used, expired or revoked
    status: str

    @classmethod
    def of(cls, t: EnrolmentToken, now: datetime) -> TokenOut:
        return cls(
            id=t.id,
            group_id=t.group_id,
            group=t.group.name,
            label=t.label,
            unattended=t.unattended,
            created_by=t.created_by.email if t.created_by is not None else None,
            created_at=t.created_at,
            expires_at=t.expires_at,
            used_at=t.used_at,
            used_by_device_id=t.used_by_device_id,
            revoked_at=t.revoked_at,
            status=tokens.status(t, now),
        )


class TokenCreated(TokenOut):
    #: The token itself: shown this once, never stored.
    token: str
    #: What IT runs on the device.
    command: str


class DeviceOut(BaseModel):
    id: str
    name: str
    hostname: str
    os_name: str
    os_user: str
    agent_version: str
    group_id: int
    group: str
    policy: str
    unattended: bool
    enrolled_at: datetime
    enrolled_by: str | None
    last_seen_at: datetime | None
    online: bool
    revoked_at: datetime | None
    revoked_by: str

    @classmethod
    def of(cls, d: Device, now: datetime) -> DeviceOut:
        return cls(
            id=d.id,
            name=d.name,
            hostname=d.hostname,
            os_name=d.os_name,
            os_user=d.os_user,
            agent_version=d.agent_version,
            group_id=d.group_id,
            group=d.group.name,
            policy=d.group.policy,
            unattended=d.unattended,
            enrolled_at=d.enrolled_at,
            enrolled_by=d.enrolled_by.email if d.enrolled_by is not None else None,
            last_seen_at=d.last_seen_at,
            online=service.is_online(d, now),
            revoked_at=d.revoked_at,
            revoked_by=d.revoked_by,
        )


class DeviceDetail(DeviceOut):
    #: The modes the caller may choose when connecting (empty: none).
    allowed_modes: list[str]


class ConnectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Why (required unless ticket_id names the ticket the connection is for).
    reason: str = Field(default="", max_length=500)
    ticket_id: RowId | None = None
    #: ask, notify or unattended; default the group's policy.
    mode: DevicePolicy | None = None
    permissions: list[str] | None = Field(default=None, max_length=8)


class ConnectOut(BaseModel):
    id: str
    ticket_id: int
    device_id: str
    policy: str
    reason: str
    console_url: str
    status: str
