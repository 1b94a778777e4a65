"""End reasons both sides must tell apart: the server sends them, the agent words them.

A session ends with ``ended{by, reason}``. Most reasons explain themselves on one side only; the
ones here mean "the technician's own access changed while the session ran" (their account was
deactivated or signed out, their password changed, their role or its policy no longer allows the
session, or now requires a second sign-in step). The server ends such a session by ``system``;
the user must hear that neither they nor the connection did anything wrong.
"""

from __future__ import annotations

#: The technician's account was deactivated by an administrator.
ACCOUNT_DEACTIVATED = "account_deactivated"
#: The technician's credentials ended: signed out everywhere, password changed, or the sign-in
#: the console was opened with is gone.
SIGNED_OUT_REASONS = frozenset({"signed_out_everywhere", "password_changed", "signed_out"})
#: The technician's role (or its policy) no longer allows what the session was granted, or now
#: requires a second sign-in step their account does not have.
ROLE_REASONS = frozenset({"role_changed", "policy_changed", "totp_required"})
#: Every reason meaning "the technician's access changed".
ACCESS_CHANGED_REASONS = frozenset({ACCOUNT_DEACTIVATED, *SIGNED_OUT_REASONS, *ROLE_REASONS})
