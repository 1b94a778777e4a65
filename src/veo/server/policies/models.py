"""A role's stored policy. A role without a row has :func:`veo.server.policies.service.default_policy`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from veo.server.db.base import Base, UTCDateTime, utcnow


class RolePolicyRow(Base):
    __tablename__ = "role_policies"

    role: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: Capability names (``veo.server.policies.capabilities.Capability``), in enum order.
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    totp_required: Mapped[bool] = mapped_column(Boolean, default=False)
    identity_before_control: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The largest file either side may send in a session (and attach to a ticket); NULL: the default.
    max_file_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: How long a user's grant waits for a lost connection (0: no resume); NULL: the default.
    resume_grace_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
