"""Device groups, enrolment tokens and enrolled devices.

A device belongs to one group; the group's ``policy`` says what a connection does (``ask``,
``notify``, ``unattended``: ``veo.protocol.device.DevicePolicy``) and ``roles`` which roles may
connect at all. An enrolment token is single use: only its SHA-256 is stored, ``used_at`` is set
by one conditional UPDATE, so two devices racing with one token cannot both enrol. A device is
never deleted: revoking it keeps the row (and the audit trail that names it) and makes its key
worthless at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from veo.server.auth.models import User
from veo.server.db.base import Base, UTCDateTime, utcnow


class DeviceGroup(Base):
    __tablename__ = "device_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: ``ask`` (default), ``notify`` or ``unattended``.
    policy: Mapped[str] = mapped_column(String(12), default="ask")
    #: Roles whose members see these devices and may connect to them.
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EnrolmentToken(Base):
    __tablename__ = "enrolment_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: SHA-256 (hex) of the token; the token itself is shown once, when it is created.
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("device_groups.id", ondelete="CASCADE"), index=True)
    #: What the token is for, in the admin's words ("Reception PCs, floor 2").
    label: Mapped[str] = mapped_column(String(120), default="")
    #: Devices enrolled with it may be reached unattended (when their group's policy says so).
    unattended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    used_by_device_id: Mapped[str | None] = mapped_column(String(32), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    group: Mapped[DeviceGroup] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(lazy="joined")


class Device(Base):
    __tablename__ = "devices"

    #: 32 lowercase hex digits (``veo.protocol.device.DeviceId``).
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("device_groups.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    hostname: Mapped[str] = mapped_column(String(120), default="")
    os_name: Mapped[str] = mapped_column(String(120), default="")
    #: Who was signed in to the desktop at the last hello or heartbeat (empty: nobody).
    os_user: Mapped[str] = mapped_column(String(120), default="")
    agent_version: Mapped[str] = mapped_column(String(40), default="")
    #: Raw Ed25519 public key, unpadded base64url (``veo.protocol.device.encode_public_key``).
    public_key: Mapped[str] = mapped_column(String(44), unique=True)
    #: Enrolled with a token that allowed unattended access.
    unattended: Mapped[bool] = mapped_column(Boolean, default=False)
    token_id: Mapped[str | None] = mapped_column(String(32), default=None)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The token's creator: who is accountable for this enrolment.
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: The server node whose socket the device holds now (None: not connected).
    connected_node: Mapped[str | None] = mapped_column(String(64), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: ``server`` (an admin), ``device`` (unenrolled at the device).
    revoked_by: Mapped[str] = mapped_column(String(20), default="")

    group: Mapped[DeviceGroup] = relationship(lazy="joined")
    enrolled_by: Mapped[User | None] = relationship(lazy="joined")
