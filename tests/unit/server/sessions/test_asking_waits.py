"""The server's waits around a mid-session question: the cooldown after a refusal, a stale question."""

from __future__ import annotations

from veo.protocol.asking import REFUSAL_COOLDOWN_SECONDS
from veo.protocol.permissions import Permission
from veo.server.sessions.asking import PENDING_SECONDS, cooldown_left, pending_for_state
from veo.server.sessions.runtime import PendingAsk

CONTROL, FILES = Permission.CONTROL, Permission.FILES


def test_cooldown_counts_whole_seconds_from_the_latest_refusal_asked_again() -> None:
    refused = {CONTROL: 100.0, FILES: 120.0}
    assert cooldown_left(refused, [CONTROL], 100.0) == REFUSAL_COOLDOWN_SECONDS
    assert cooldown_left(refused, [CONTROL], 129.5) == 1
    assert cooldown_left(refused, [CONTROL], 130.0) == 0
    assert cooldown_left(refused, [CONTROL, FILES], 130.0) == 20, "files was refused later"
    assert cooldown_left(refused, [Permission.CLIPBOARD], 100.0) == 0, "never refused"


def test_a_question_shows_as_pending_until_it_stops_blocking() -> None:
    pending = PendingAsk(id="a" * 32, permissions=(CONTROL,), asked_at=10.0)
    assert pending_for_state(pending, 10.0) == [CONTROL]
    assert pending_for_state(pending, 10.0 + PENDING_SECONDS - 0.1) == [CONTROL]
    assert pending_for_state(pending, 10.0 + PENDING_SECONDS) == []
    assert pending_for_state(None, 10.0) == []
