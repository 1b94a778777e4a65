"""``veo agent --history`` shows the device's record from the root service's directory only
(review R1-5): the user's own state directory is writable by every program the user runs, so its
lines are read only on a computer with no system enrolment (a service run without root)."""

from __future__ import annotations

from pathlib import Path

import pytest

from veo.agent.device import device_history, state
from veo.agent.device.device_history import DeviceEvent


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A system directory (not created yet) and this user's own, with a forged line in it."""
    monkeypatch.delenv(state.STATE_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "home-state"))
    user = tmp_path / "home-state" / "veo-agent"
    device_history.append(user, DeviceEvent(kind="unenrolled", at=device_history.now(), detail="server"))
    return tmp_path / "var-lib-veo-agent", user


def test_with_a_system_enrolment_the_users_own_lines_are_not_read(dirs: tuple[Path, Path]) -> None:
    system, _user = dirs
    device_history.append(system, DeviceEvent(kind="enrolled", at=device_history.now(), organization="ACME"))
    assert device_history.history_dirs(system) == [system]
    events = device_history.read(device_history.history_dirs(system)).events
    assert [(e.kind, e.organization) for e in events] == [("enrolled", "ACME")]  # no forged "unenrolled"


def test_a_system_directory_without_lines_still_hides_the_users(dirs: tuple[Path, Path]) -> None:
    system, _user = dirs
    system.mkdir()
    assert device_history.read(device_history.history_dirs(system)).events == []


def test_without_a_system_enrolment_the_users_own_directory_is_read(dirs: tuple[Path, Path]) -> None:
    system, user = dirs
    assert device_history.history_dirs(system) == [user]
    assert [e.kind for e in device_history.read(device_history.history_dirs(system)).events] == ["unenrolled"]


def test_an_explicit_state_dir_is_the_only_one(
    dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, _user = dirs
    system.mkdir()
    monkeypatch.setenv(state.STATE_DIR_ENV, "/somewhere/else")
    assert device_history.history_dirs(system) == [Path("/somewhere/else")]
