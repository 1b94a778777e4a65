"""Join codes: random digits a user can read over the phone, single use, short-lived.

What a code looks like (9 digits, typed with spaces or dashes, shown ``123 456 789``) is
``veo.protocol.codes``, shared with the agent; this module draws and digests them. Codes come
from ``secrets`` (10^9 values); only technicians create them and redemption is rate limited
(``ratelimit.py``), so guessing one is hopeless. The database keeps keyed digests, never the
code (``code_secret.py``). A code is unique among LIVE codes only: ``live_code_digest`` is
cleared when the code is redeemed or expires, and ``code_digest`` keeps the digest so that a
second try of a used or expired code can be answered precisely without keeping the code.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.protocol import codes
from veo.server.sessions import code_secret
from veo.server.sessions.models import RemoteSession

_MAX_ATTEMPTS = 50


def new_code() -> str:
    return f"{secrets.randbelow(10**codes.DIGITS):0{codes.DIGITS}d}"


def code_digest(code: str) -> str:
    """The keyed digest codes are stored and looked up by (the server's secret, not a plain hash)."""
    return code_secret.active().digest(code)


def unique_live_code(db: Session) -> str:
    """A code no live join or continuation code equals (the unique indexes are the final guard)."""
    for _ in range(_MAX_ATTEMPTS):
        code = new_code()
        digest = code_digest(code)
        taken = db.scalar(
            select(RemoteSession.id).where(
                (RemoteSession.live_code_digest == digest)
                | (RemoteSession.live_continuation_digest == digest)
            )
        )
        if taken is None:
            return code
    raise RuntimeError("could not draw a free join code")  # 10^9 codes: practically unreachable
