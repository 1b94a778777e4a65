"""The agent's policy for feature messages: each type is judged by what ``NEEDS`` says it needs.

Chat only needs the user's Allow; annotation and monitor choice need *view*; clipboard and files
need their own grant and the technician's "Codes match" (they move data); input keeps the full
control check. A table that forgot a type would fail ``test_every_console_type_has_a_need``.
"""

from __future__ import annotations

import json

import pytest

from veo.agent.policy import Policy
from veo.protocol.base import type_names
from veo.protocol.datachannel import NEEDS, ConsoleDataMessage
from veo.protocol.permissions import Permission
from veo.protocol.signaling import TechnicianConfirmed

SAMPLES: dict[str, dict[str, object]] = {
    "chat": {"type": "chat", "id": "m1", "text": "hola"},
    "annotate": {"type": "annotate", "id": "s1", "tool": "arrow", "points": [[1, 2], [30, 40]]},
    "select_monitor": {"type": "select_monitor", "monitor": "all"},
    "clipboard": {"type": "clipboard", "text": "copiado"},
    "file_offer": {"type": "file_offer", "id": "0" * 32, "name": "a.txt", "size": 3, "sha256": "f" * 64},
    "pointer_move": {"type": "pointer_move", "x": 1, "y": 1},
}


def _granted(*permissions: Permission, technician: bool = True) -> Policy:
    policy = Policy()
    policy.grant(list(Permission), permissions)
    policy.technician(
        TechnicianConfirmed(sas_confirmed=technician, identity_required=False, identity_confirmed=False)
    )
    return policy


def test_every_console_type_has_a_need() -> None:
    assert type_names(ConsoleDataMessage) == set(NEEDS)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (Policy(), dict.fromkeys(SAMPLES, "not_consented")),
        (
            _granted(Permission.VIEW),
            {
                "chat": None,
                "annotate": None,
                "select_monitor": None,
                "clipboard": "clipboard_not_granted",
                "file_offer": "files_not_granted",
                "pointer_move": "control_not_granted",
            },
        ),
        (
            _granted(Permission.VIEW, Permission.CLIPBOARD, Permission.FILES, technician=False),
            {
                "chat": None,
                "annotate": None,
                "select_monitor": None,
                "clipboard": "technician_not_confirmed",
                "file_offer": "technician_not_confirmed",
                "pointer_move": "control_not_granted",
            },
        ),
        (_granted(*Permission), dict.fromkeys(SAMPLES)),
    ],
    ids=["nothing", "view only", "data without the technician's check", "everything"],
)
def test_feature_messages_are_judged_by_their_need(policy: Policy, expected: dict[str, str | None]) -> None:
    for kind, sample in SAMPLES.items():
        verdict = policy.judge(json.dumps(sample))
        assert verdict.reason == expected[kind], kind
        assert verdict.allowed == (expected[kind] is None), kind


def test_the_agent_sends_clipboard_only_under_the_same_rule() -> None:
    assert not _granted(Permission.VIEW).allows("clipboard")
    assert not _granted(Permission.VIEW, Permission.CLIPBOARD, technician=False).allows("clipboard")
    assert _granted(Permission.VIEW, Permission.CLIPBOARD).allows("clipboard")
