"""The device's state files: modes, atomic replacement, forgetting, and the history's lines."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from veo.agent.device import device_history, keys, state
from veo.agent.device.device_history import DeviceEvent

CONFIG = state.DeviceConfig(
    server="https://support.example",
    device_id="0" * 32,
    device_name="reception-01",
    organization="ACME",
    group="Reception",
    policy="notify",
    unattended=False,
    enrolled_at="2026-12-07T10:00:00+00:00",
    enrolled_by="Ana Admin",
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_is_0600_and_loads_back(tmp_path: Path) -> None:
    key = keys.generate()
    keys.save(tmp_path, key)
    assert mode(tmp_path / state.KEY_NAME) == 0o600
    assert keys.public_key_text(keys.load(tmp_path)) == keys.public_key_text(key)
    assert (tmp_path / state.KEY_NAME).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_config_is_0600_and_round_trips(tmp_path: Path) -> None:
    state.write_config(tmp_path, CONFIG)
    assert mode(tmp_path / state.CONFIG_NAME) == 0o600
    assert state.read_config(tmp_path) == CONFIG


def test_private_write_replaces_atomically_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "device.key"
    target.write_bytes(b"old")
    target.chmod(0o644)
    state.write_private(target, b"new")
    assert target.read_bytes() == b"new"
    assert mode(target) == 0o600  # a replaced file takes the new mode, not the old one's
    assert [p.name for p in tmp_path.iterdir()] == ["device.key"]


def test_umask_does_not_open_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    old = os.umask(0)
    try:
        keys.save(tmp_path, keys.generate())
    finally:
        os.umask(old)
    assert mode(tmp_path / state.KEY_NAME) == 0o600


def test_not_enrolled_and_damaged_config(tmp_path: Path) -> None:
    assert state.read_config(tmp_path) is None
    (tmp_path / state.CONFIG_NAME).write_text("{not json")
    with pytest.raises(state.StateError):
        state.read_config(tmp_path)


def test_damaged_key_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / state.KEY_NAME).write_bytes(b"garbage")
    with pytest.raises(state.StateError):
        keys.load(tmp_path)


def test_forget_deletes_key_and_config_but_keeps_history(tmp_path: Path) -> None:
    keys.save(tmp_path, keys.generate())
    state.write_config(tmp_path, CONFIG)
    device_history.append(tmp_path, DeviceEvent(kind="enrolled", at=device_history.now()))
    state.forget(tmp_path)
    state.forget(tmp_path)  # twice is fine
    assert sorted(p.name for p in tmp_path.iterdir()) == [state.HISTORY_NAME]


def test_history_is_0644_and_reads_newest_first(tmp_path: Path) -> None:
    device_history.append(tmp_path, DeviceEvent(kind="enrolled", at="2026-12-01T10:00:00+00:00", group="G"))
    device_history.append(
        tmp_path,
        DeviceEvent(
            kind="session_request",
            at="2026-12-02T10:00:00+00:00",
            technician="Tom",
            reason="printer",
            policy="ask",
            ticket_id=7,
        ),
    )
    with (tmp_path / state.HISTORY_NAME).open("a") as handle:
        handle.write("not json\n")
        handle.write(json.dumps({"kind": "session_request", "at": "x"}) + "\n")
        handle.write(json.dumps({"kind": "enrolled", "at": "2026-12-03T00:00:00", "ticket_id": "7"}) + "\n")
    assert mode(tmp_path / state.HISTORY_NAME) == 0o644
    read = device_history.read([tmp_path])
    assert [e.kind for e in read.events] == ["session_request", "enrolled"]
    assert read.events[0].technician == "Tom" and read.events[0].ticket_id == 7
    assert read.skipped == 3
    assert device_history.read([tmp_path / "missing"]).events == []


def test_state_dir_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(state.STATE_DIR_ENV, str(tmp_path / "env"))
    assert state.state_dir(None) == tmp_path / "env"
    assert state.state_dir(str(tmp_path / "arg")) == tmp_path / "arg"
    monkeypatch.delenv(state.STATE_DIR_ENV)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(state, "is_root", lambda: False)
    assert state.default_state_dir() == tmp_path / "xdg" / "veo-agent"
    monkeypatch.setattr(state, "is_root", lambda: True)
    assert state.default_state_dir() == Path("/var/lib/veo-agent")
