"""A remote session on a ticket: its join code, lifecycle and what it ended as.

Codes are kept as keyed digests (``code_secret.py``): the database alone never gives a live code
back. ``RemoteSession.code`` reads and writes the live join code through them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from veo.protocol.resume import DEFAULT_GRACE_SECONDS
from veo.server.auth.models import User
from veo.server.db.base import Base, UTCDateTime, utcnow
from veo.server.sessions import code_secret
from veo.server.tickets.models import Ticket

#: waiting (code issued) -> joined (agent in, consent pending) -> active (user allowed) -> ended;
#: a code nobody redeemed in time becomes expired.
SESSION_STATUSES = ("waiting", "joined", "connecting", "active", "ended", "expired")


class RemoteSession(Base):
    __tablename__ = "remote_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Keyed digest of the join code while it can still be redeemed (what a join looks up);
    #: cleared once used or expired. Unique: no two live codes alike.
    live_code_digest: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    #: The live join code encrypted under the server's key, only to show it to the technician;
    #: cleared with ``live_code_digest``.
    code_sealed: Mapped[str | None] = mapped_column(String(code_secret.SEALED_CHARS), default=None)
    code_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Keyed digest of the code, kept after the code is cleared to tell "used"/"expired" from "unknown".
    code_digest: Mapped[str] = mapped_column(String(64), index=True, default="")
    status: Mapped[str] = mapped_column(String(20), default="waiting", index=True)
    requested_permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The user confirmed the code on the agent (Allow is pressed under it).
    sas_confirmed: Mapped[bool] = mapped_column(default=False)
    #: The technician clicked "Codes match" in the console.
    technician_sas_confirmed: Mapped[bool] = mapped_column(default=False)
    #: The user paused remote control on the agent's bar (the agent enforces it; this is for display).
    control_paused: Mapped[bool] = mapped_column(default=False)
    identity_confirmation: Mapped[str] = mapped_column(String(40), default="not_verified")
    #: When the technician recorded ``identity_confirmation``; None while nobody said how.
    identity_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: Copied from the role's policy at creation: control waits for a confirmed identity.
    identity_required: Mapped[bool] = mapped_column(default=False)
    #: Copied from the role's policy at creation: how long the user's grant waits for a lost
    #: connection to come back (0: it does not wait, the session ends at the loss).
    resume_grace_seconds: Mapped[int] = mapped_column(default=DEFAULT_GRACE_SECONDS)
    #: SHA-256 of the token the agent proves itself with on a new signaling socket (``rejoin``);
    #: the token itself is only in ``joined``. None before the agent joined.
    resume_token_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    #: While the connection is lost: when the session ends unless it comes back (``resuming.py``).
    resume_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: Wrong or missing resume proofs so far; at ``resume.MAX_BAD_PROOFS`` the session ends.
    resume_failures: Mapped[int] = mapped_column(default=0)
    #: ``agent`` (the installed app) or ``browser`` (the join page shares, view only). A browser
    #: share upgraded to the agent becomes ``agent``; ``upgraded_at`` says when.
    mode: Mapped[str] = mapped_column(String(10), default="agent")
    upgraded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: Keyed digest of the single-use code that lets ``veo agent`` continue THIS browser share,
    #: while it is live; cleared once used or replaced. ``continuation_digest`` keeps it (as
    #: ``code_digest``). The code itself is only in the message that issued it.
    live_continuation_digest: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    continuation_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    continuation_digest: Mapped[str] = mapped_column(String(64), index=True, default="")
    agent_address: Mapped[str] = mapped_column(String(64), default="")
    agent_platform: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_by: Mapped[str | None] = mapped_column(String(20), default=None)
    end_reason: Mapped[str] = mapped_column(String(200), default="")
    resolution_note: Mapped[str] = mapped_column(Text, default="")
    #: The user's 1-5 rating of the help and their comment (``veo.server.notify.rating``), once.
    rating: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    rating_comment: Mapped[str] = mapped_column(Text, default="")
    #: A session on a managed device (issue 17): which device, the group policy that applied
    #: (``ask``, ``notify``, ``unattended``) and the reason the technician gave; None/"" otherwise.
    device_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    device_policy: Mapped[str | None] = mapped_column(String(12), default=None)
    access_reason: Mapped[str] = mapped_column(Text, default="")
    #: SHA-256 (hex) of the secret sent to the device in its ``session_request``: the session's code
    #: is redeemed only by a ``join`` carrying that secret (only the device's service has it).
    device_secret_digest: Mapped[str | None] = mapped_column(String(64), default=None)

    ticket: Mapped[Ticket] = relationship(lazy="joined")
    technician: Mapped[User | None] = relationship(lazy="joined")

    @property
    def code(self) -> str | None:
        """The live join code, for the technician to read out; None once used or expired."""
        if self.live_code_digest is None or self.code_sealed is None:
            return None
        return code_secret.active().unseal(self.code_sealed)

    @code.setter
    def code(self, code: str | None) -> None:
        """Issue ``code`` (its digests and sealed copy), or with None void the live code."""
        if code is None:
            self.live_code_digest = self.code_sealed = None
            return
        secret = code_secret.active()
        self.code_digest = self.live_code_digest = secret.digest(code)
        self.code_sealed = secret.seal(code)

    @property
    def identity_confirmed(self) -> bool:
        """An identity check was recorded and it was a real one (not "not verified")."""
        return self.identity_confirmed_at is not None and self.identity_confirmation != "not_verified"

    @property
    def duration_seconds(self) -> int | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return max(0, int((self.ended_at - self.started_at).total_seconds()))
