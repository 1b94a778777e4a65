"""The JSON Schema the server publishes for the console carries the trust messages too."""

from __future__ import annotations

import json

from veo.protocol.schema import protocol_schema


def _types(schema: dict[str, object]) -> set[str]:
    text = json.dumps(schema)
    return {
        name for name in ("sas_confirm", "identity", "technician_confirmed", "abort") if f'"{name}"' in text
    }


def test_trust_messages_are_in_the_published_contract() -> None:
    schema = protocol_schema()
    signaling = schema["signaling"]
    assert _types(signaling["console_to_server"]) >= {"sas_confirm", "identity", "abort"}
    assert "abort" in _types(signaling["agent_to_server"])
    assert "technician_confirmed" in _types(signaling["server_to_peer"])
    control = schema["data_channel"]["agent_to_console"]["$defs"]["Control"]
    assert "waiting_for" in control["properties"] and "waiting_for" not in control.get("required", [])
    methods = schema["signaling"]["console_to_server"]["$defs"]["IdentityConfirm"]["properties"]["method"]
    assert methods["enum"] == ["email_link", "phone_questions", "managed_device", "not_verified"]
