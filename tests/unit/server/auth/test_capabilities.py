"""Policy capabilities: parsing names, the protocol subset, and default policies."""

from __future__ import annotations

import pytest

from veo.protocol.permissions import Permission
from veo.server.policies.capabilities import Capability, UnknownCapability, parse_capabilities, permissions_of
from veo.server.policies.service import default_policy


def test_parse_accepts_known_names_and_blanks() -> None:
    assert parse_capabilities(["view", " Control ", "", "recording"]) == {
        Capability.VIEW,
        Capability.CONTROL,
        Capability.RECORDING,
    }


def test_parse_names_the_unknown_one() -> None:
    with pytest.raises(UnknownCapability) as info:
        parse_capabilities(["view", "root"])
    assert info.value.name == "root"


def test_only_protocol_permissions_reach_the_protocol() -> None:
    assert permissions_of(set(Capability)) == set(Permission)


def test_defaults_require_totp_for_admins_only() -> None:
    admin, lead, tech = default_policy("admin"), default_policy("lead"), default_policy("technician")
    assert admin.totp_required and not lead.totp_required and not tech.totp_required
    for policy in (admin, lead, tech):
        assert policy.max_permissions == set(Permission)
        assert not (policy.identity_before_control or policy.unattended or policy.recording)
