"""A root service never runs a technician's session as root by default (review R1-4).

``--display :N`` without ``--desktop-user``: as root, the owner of ``/tmp/.X11-unix/X<N>``; a
root-owned or unknown display is refused; ``--desktop-user root`` is the one way to root.
The sockets are real Unix sockets in a temporary directory, owned by whoever runs the tests.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from veo.agent.device import desktop_seat
from veo.agent.device.desktop_seat import DisplayOwnerError

ME = pwd.getpwuid(os.getuid())
#: Who owns the test's X socket: as root, an ordinary account (a socket root owns is refused).
OWNER = pwd.getpwnam("nobody") if os.getuid() == 0 else ME


@pytest.fixture
def sockets(tmp_path: Path) -> Iterator[Path]:
    """``X5`` a real socket (owned by :data:`OWNER`); ``X6`` a plain file; ``X7`` a symbolic link."""
    directory = tmp_path / "x11"
    directory.mkdir()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(directory / "X5"))
    if os.getuid() == 0:
        os.lchown(directory / "X5", OWNER.pw_uid, OWNER.pw_gid)
    (directory / "X6").write_text("")
    (directory / "X7").symlink_to(directory / "X5")
    try:
        yield directory
    finally:
        server.close()


def test_as_root_the_display_goes_to_its_owner(sockets: Path) -> None:
    desktop = desktop_seat.explicit(":5", None, {}, euid=0, socket_dir=sockets)
    assert desktop is not None and desktop.uid == OWNER.pw_uid and desktop.user == OWNER.pw_name
    assert desktop.home == OWNER.pw_dir and dict(desktop.env) == {"DISPLAY": ":5"}
    # a screen number and the unix: prefix name the same display
    for name in (":5.0", "unix:5"):
        found = desktop_seat.explicit(name, None, {}, euid=0, socket_dir=sockets)
        assert found is not None and found.uid == OWNER.pw_uid


@pytest.mark.skipif(os.getuid() != 0, reason="a root-owned socket needs the tests to run as root")
def test_as_root_a_root_owned_display_is_refused(sockets: Path) -> None:
    os.lchown(sockets / "X5", 0, 0)  # an Xvfb root started
    with pytest.raises(DisplayOwnerError) as refused:
        desktop_seat.explicit(":5", None, {}, euid=0, socket_dir=sockets)
    assert refused.value.problem == "root" and refused.value.display == ":5"


def test_a_root_owner_found_by_stat_is_refused(sockets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # whoever runs the tests: make the socket's owner root as far as explicit() can tell
    monkeypatch.setattr(desktop_seat, "display_owner", lambda display, socket_dir: pwd.getpwuid(0))
    with pytest.raises(DisplayOwnerError) as refused:
        desktop_seat.explicit(":5", None, {}, euid=0, socket_dir=sockets)
    assert refused.value.problem == "root"


@pytest.mark.parametrize("display", [":9", ":6", ":7", "remote.example:0", "localhost:10.0", "nonsense"])
def test_as_root_an_unknown_display_is_refused(sockets: Path, display: str) -> None:
    """No socket, a plain file, a symbolic link, a remote display: nobody's to guess."""
    with pytest.raises(DisplayOwnerError) as refused:
        desktop_seat.explicit(display, None, {}, euid=0, socket_dir=sockets)
    assert refused.value.problem == "unknown"


def test_an_explicit_desktop_user_wins_even_root(sockets: Path) -> None:
    root = desktop_seat.explicit(":9", "root", {}, euid=0, socket_dir=sockets)
    assert root is not None and root.uid == 0  # IT wrote it: the one way to root
    named = desktop_seat.explicit(":9", ME.pw_name, {}, euid=0, socket_dir=sockets)
    assert named is not None and named.uid == ME.pw_uid


def test_not_root_runs_as_itself_whatever_the_owner(sockets: Path) -> None:
    desktop = desktop_seat.explicit(":9", None, {}, euid=1000, socket_dir=sockets)
    assert desktop is not None and desktop.uid == os.getuid()


def test_the_service_finds_no_desktop_rather_than_root(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise DisplayOwnerError(":0", "root")

    monkeypatch.setattr(desktop_seat, "explicit", refuse)
    assert asyncio.run(desktop_seat.find(":0", None)) is None  # the request ends as no_desktop


def test_the_root_service_refuses_a_root_display_without_desktop_user(
    sockets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from veo.agent.device import cli, keys, state

    state.write_config(
        tmp_path / "state",
        state.DeviceConfig(
            server="https://support.example", device_id="0" * 32, device_name="kiosk", organization="ACME",
            group="Kiosks", policy="notify", unattended=False, enrolled_at="2026-12-07T10:00:00+00:00",
            enrolled_by="Ana Admin",
        ),
    )  # fmt: skip
    keys.save(tmp_path / "state", keys.generate())
    real = desktop_seat.explicit
    monkeypatch.setattr(
        desktop_seat,
        "explicit",
        lambda display, user, environ=None: real(display, user, environ, euid=0, socket_dir=sockets),
    )
    monkeypatch.setattr(desktop_seat, "display_owner", lambda display, socket_dir: pwd.getpwuid(0))
    argv = ["service", "--state-dir", str(tmp_path / "state"), "--display", ":5", "--lang", "en"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "The display :5 belongs to root" in err and "--desktop-user" in err
