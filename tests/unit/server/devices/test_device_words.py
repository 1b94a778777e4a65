"""Every device action, refusal and mode has a sentence; the modes are ordered; tokens look right."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from veo.protocol.device import DEVICE_POLICIES, TOKEN_PATTERN
from veo.server.devices import errors, tokens
from veo.server.devices.errors import DeviceError
from veo.server.devices.groups import policy_rank
from veo.server.devices.models import EnrolmentToken
from veo.server.web import wording

DEVICE_ACTIONS = (
    "device.group_created",
    "device.group_changed",
    "device.token_created",
    "device.token_revoked",
    "device.enrol_refused",
    "device.enrolled",
    "device.revoked",
    "device.auth_refused",
    "device.connect_refused",
    "device.replaced",
    "session.device_launch_failed",
)


@pytest.mark.parametrize("action", DEVICE_ACTIONS)
def test_every_device_action_has_a_name(action: str) -> None:
    assert wording.action(action) != wording.action("no.such_action")


def test_details_name_device_policy_and_reason() -> None:
    requested = wording.event_details(
        "session.requested",
        {
            "requested": ["view", "control"],
            "device_id": "a" * 32,
            "device_name": "closet-srv",
            "policy": "unattended",
            "reason": "Disk full",
        },
    )
    assert "Managed device: closet-srv." in requested
    assert "Mode: unattended." in requested
    assert "Reason: Disk full." in requested
    refused = wording.event_details(
        "device.connect_refused",
        {"device_id": "a" * 32, "device_name": "pc", "mode": "unattended", "code": "unattended_not_allowed"},
    )
    assert "Your role does not allow unattended access" in refused
    assert "the token was already used" in wording.event_details("device.enrol_refused", {"reason": "used"})
    assert "Unenrolled at the device." in wording.event_details(
        "device.revoked", {"name": "pc", "by": "device"}
    )
    assert "signature" in wording.event_details("device.auth_refused", {"reason": "bad_signature"})
    summary = wording.event_details(
        "device.auth_refused",
        {"count": 3, "reasons": {"bad_signature": 3}, "first_at": "2026-01-01T00:00:00+00:00", "last_at": ""},
    )
    assert "3 more refused attempts" in summary
    launch = wording.event_details("session.device_launch_failed", {"problem": "busy"})
    assert "already in a session" in launch
    consent = wording.event_details(
        "session.consented",
        {
            "granted": ["view"],
            "sas_confirmed": False,
            "device_id": "a" * 32,
            "policy": "notify",
            "automatic": True,
        },
    )
    assert "Started without asking the person at the device." in consent
    assert wording.end_reason("device_unreachable") != wording.end_reason("anything_else")


@pytest.mark.parametrize("code", sorted(errors._ERRORS))
def test_every_refusal_is_a_sentence(code: str) -> None:
    error = DeviceError(code)
    assert error.message.endswith(".") and "_" not in error.message
    assert 400 <= error.status < 600


def test_modes_are_ordered_gentlest_first() -> None:
    assert [policy_rank(p) for p in DEVICE_POLICIES] == [0, 1, 2]
    assert policy_rank("root") == -1


def test_token_secret_and_status() -> None:
    secret = tokens.new_secret()
    assert re.fullmatch(TOKEN_PATTERN, secret)
    assert tokens.new_secret() != secret
    now = datetime(2026, 1, 1, tzinfo=UTC)
    token = EnrolmentToken(expires_at=now + timedelta(hours=1))
    assert tokens.status(token, now) == "active"
    assert tokens.status(token, now + timedelta(hours=2)) == "expired"
    token.used_at = now
    assert tokens.status(token, now) == "used"
    token.revoked_at = now
    assert tokens.status(token, now) == "revoked"


def test_a_replaced_socket_names_both_places_and_what_to_do() -> None:
    text = wording.event_details(
        "device.replaced",
        {"device_id": "a" * 32, "device_name": "Reception PC", "from": "10.0.0.7", "to": "203.0.113.9"},
    )
    assert "Reception PC" in text and "10.0.0.7" in text and "203.0.113.9" in text
    assert "revoke" in text
