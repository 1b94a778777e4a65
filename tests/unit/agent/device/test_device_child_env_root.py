"""A root child never keeps paths into someone's home (review R1-14).

Under ``su`` (not ``su -``) or ``sudo -E``, a root ``veo agent enrol``/``service`` still carries
the invoking user's ``XDG_STATE_HOME``/``XDG_DATA_HOME``/``VEO_AGENT_HISTORY``: a root notice or
session part would open, rotate and append its log and history there, where a symbolic link
planted by that user redirects root's writes. Kept only where nobody but root can change them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from veo.agent.device import launcher
from veo.agent.device.desktop_seat import Desktop

ROOT = Desktop("root", 0, 0, "/root", "/bin/sh", {"DISPLAY": ":0"})
MOVED = ("XDG_STATE_HOME", "XDG_DATA_HOME", "VEO_AGENT_HISTORY")


@pytest.mark.skipif(os.getuid() != 0, reason="a root child needs the tests to run as root")
def test_a_root_child_drops_paths_a_user_can_change(tmp_path: Path) -> None:
    home = tmp_path / "maria"
    home.mkdir()
    os.chown(home, 1000, 1000)  # maria's home: she may rename or link anything in it
    inherited = {
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "VEO_AGENT_HISTORY": str(home / "history.jsonl"),
    }
    env = launcher.child_env(ROOT, inherited)
    assert not any(name in env for name in MOVED)
    assert env["HOME"] == "/root"


@pytest.mark.skipif(os.getuid() != 0, reason="a root child needs the tests to run as root")
def test_a_root_child_keeps_paths_only_root_can_change(tmp_path: Path) -> None:
    place = tmp_path / "root-only"
    place.mkdir(mode=0o755)
    inherited = {"XDG_STATE_HOME": str(place / "state"), "VEO_AGENT_HISTORY": str(place / "h.jsonl")}
    env = launcher.child_env(ROOT, inherited)
    assert env["XDG_STATE_HOME"] == inherited["XDG_STATE_HOME"]
    assert env["VEO_AGENT_HISTORY"] == inherited["VEO_AGENT_HISTORY"]
    # a directory others may write (not sticky) is not root's alone
    os.chmod(place, 0o777)
    assert "XDG_STATE_HOME" not in launcher.child_env(ROOT, inherited)
    # a symbolic link root owns, to a user's place, is judged by where it leads
    os.chmod(place, 0o755)
    elsewhere = tmp_path / "user-place"
    elsewhere.mkdir()
    os.chown(elsewhere, 1000, 1000)
    (place / "link").symlink_to(elsewhere)
    assert "XDG_STATE_HOME" not in launcher.child_env(ROOT, {"XDG_STATE_HOME": str(place / "link" / "s")})


def test_only_root_changes() -> None:
    assert not launcher.only_root_changes("relative/path")
    assert launcher.only_root_changes("/") is (os.lstat("/").st_uid == 0)


def test_the_same_user_keeps_its_moved_paths() -> None:
    """A service that is not root (tests, a kiosk's own account) starts children as itself."""
    if os.getuid() == 0:
        pytest.skip("as root this is the test above")
    me = Desktop("me", os.getuid(), os.getgid(), "/home/me", "/bin/sh")
    env = launcher.child_env(me, {"XDG_STATE_HOME": "/home/me/s"})
    assert env["XDG_STATE_HOME"] == "/home/me/s"
