"""What the person reads: the notice per policy, the device history's section in --history, the
addresses the device uses, enrolment's refusals before anything is sent, and the systemd unit."""

from __future__ import annotations

import configparser
from datetime import UTC
from pathlib import Path

import pytest

from veo.agent import history
from veo.agent.device import addresses, device_history, notice_text, state
from veo.agent.device.device_history import DeviceEvent
from veo.agent.device.enrol import EnrolError, EnrolInput, enrol, server_sentence
from veo.agent.history_text import history_text
from veo.agent.urls import ServerUrlError
from veo.protocol.device import EnrolResponse

RESPONSE = EnrolResponse(
    device_id="d" * 32,
    device_name="closet-srv",
    organization="ACME",
    group="Servers",
    policy="unattended",
    unattended=True,
    enrolled_by="Ana Admin",
    enrolled_at="2026-12-07T10:00:00+00:00",
)


def test_notice_names_organization_policy_history_and_who() -> None:
    text = notice_text.build(RESPONSE, "en", "veo-agent").text()
    assert text.startswith("This computer is now managed by ACME\n")
    assert "as “closet-srv” (group: Servers)" in text
    assert "even when nobody is at the computer" in text and "Stop button" in text
    assert "veo-agent --history" in text and "sudo veo-agent unenrol" in text
    assert "Enrolled by Ana Admin on" in text


def test_notice_never_promises_more_than_the_device_was_enrolled_for() -> None:
    limited = RESPONSE.model_copy(update={"unattended": False})
    text = notice_text.build(limited, "en").text()
    assert "even when nobody is at the computer" not in text
    assert "You will see at once who connected and why" in text


def test_history_print_has_a_device_section(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    device_history.append(
        directory,
        DeviceEvent(kind="enrolled", at="2026-12-01T09:00:00+00:00", organization="ACME", device_name="pc",
                    group="Reception", policy="ask", enrolled_by="Ana Admin", server="https://s.example"),
    )  # fmt: skip
    device_history.append(
        directory,
        DeviceEvent(kind="session_request", at="2026-12-02T09:00:00+00:00", organization="ACME",
                    technician="Tom Tech", reason="Printer", policy="notify", ticket_id=5,
                    ticket_title="Printer", problem="no_desktop"),
    )  # fmt: skip
    device_history.append(
        directory, DeviceEvent(kind="unenrolled", at="2026-12-03T09:00:00+00:00", detail="local")
    )
    text = history_text(
        history.read(tmp_path / "none.jsonl"), "en", UTC, device=device_history.read([directory])
    )
    section = text[text.index("This computer's management by your organization") :]
    assert section.index("No longer managed") < section.index("Tom Tech") < section.index("Enrolled:")
    for expected in (
        "Connection requested by Tom Tech (ACME)",
        "Reason given: Printer",
        "Ticket #5: Printer",
        "What happened: not started: nobody was signed in to a desktop",
        "Enrolled by: Ana Admin",
        "What technicians may do: you were asked first",
        "removed on this computer only (the server could not be reached)",
    ):
        assert expected in section
    # without device events, --history says nothing about management
    assert "management" not in history_text(
        history.read(tmp_path / "none.jsonl"), "en", device=device_history.read([])
    )


def test_a_user_session_on_a_managed_device_shows_policy_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    entry = history.HistoryEntry(
        started_at="2026-12-02T09:00:00+00:00", ended_at="2026-12-02T09:10:00+00:00", server="s",
        session_id="x", organization="ACME", technician="Tom", ticket_id=5, ticket_title="Printer",
        granted=["view"], ended_by="user", reason="ended", device_policy="notify",
        access_reason="Printer queue stuck",
    )  # fmt: skip
    history.append(entry, path)
    read = history.read(path)
    assert read.entries == [entry]
    text = history_text(read, "en", UTC)
    assert "Managed computer: started without asking; you were shown who and why" in text
    assert "Reason given: Printer queue stuck" in text


def test_addresses() -> None:
    assert addresses.origin("https://Support.Example:443/veo/") == "https://support.example"
    assert addresses.origin("https://support.example:8443") == "https://support.example:8443"
    assert addresses.origin("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert addresses.device_ws_url("https://support.example/veo/") == "wss://support.example/veo/ws/device"
    assert addresses.device_ws_url("http://localhost:8000") == "ws://localhost:8000/ws/device"
    assert addresses.enrol_url("https://support.example") == "https://support.example/api/v1/enrol"
    for bad in ("http://support.example", "ftp://x", "https://", "https://x:port"):
        with pytest.raises(ServerUrlError):
            addresses.origin(bad)


def given(tmp_path: Path, **overrides: str) -> EnrolInput:
    values = {"server": "https://support.example", "token": "veo-enrol-" + "a" * 32, "name": "pc"} | overrides
    return EnrolInput(directory=tmp_path, ca_file=None, language="en", **values)


def test_enrol_refuses_before_sending_anything(tmp_path: Path) -> None:
    with pytest.raises(EnrolError, match="not an enrolment token") as bad_token:
        enrol(given(tmp_path, token="123456789"))
    assert bad_token.value.code == 2
    with pytest.raises(EnrolError, match="unencrypted"):
        enrol(given(tmp_path, server="http://support.example"))
    state.write_config(
        tmp_path,
        state.DeviceConfig(server="https://old.example", device_id="e" * 32, device_name="pc",
                           organization="A", group="G", policy="ask", unattended=False, enrolled_at="x",
                           enrolled_by="y"),
    )  # fmt: skip
    with pytest.raises(EnrolError, match="already enrolled"):
        enrol(given(tmp_path))
    assert not (tmp_path / state.KEY_NAME).exists()


def test_enrol_unreachable_server_leaves_no_key(tmp_path: Path) -> None:
    with pytest.raises(EnrolError, match="Cannot reach the server"):
        enrol(given(tmp_path, server="http://127.0.0.1:9"))
    assert list(tmp_path.iterdir()) == []


def test_server_sentence() -> None:
    assert server_sentence(b'{"code": "used", "message": "This token was already used."}') == (
        "This token was already used."
    )
    assert server_sentence(b'{"detail": [{"loc": 1}]}') is None
    assert server_sentence(b"<html>") is None


def test_the_systemd_unit() -> None:
    from veo.server.downloads import package_tree

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(package_tree.service_unit())
    service = unit["Service"]
    assert service["ExecStart"] == "/usr/bin/veo-agent service"
    assert service["StateDirectory"] == "veo-agent" and service["RestartPreventExitStatus"] == "2"
    assert unit["Unit"]["ConditionPathExists"] == "/var/lib/veo-agent/device.json"
    assert "PrivateTmp" not in service  # the X11 socket is in /tmp: the session part needs it
    assert set(service["CapabilityBoundingSet"].split()) == {
        "CAP_SETUID", "CAP_SETGID", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", "CAP_KILL",
    }  # fmt: skip
    assert unit["Install"]["WantedBy"] == "multi-user.target"
