"""A root service never runs a technician's session as root by default (review R1-4).

``--display :N`` without ``--desktop-user``: as root, the user of the process listening on
``/tmp/.X11-unix/X<N>`` (``SO_PEERCRED``, not the file's owner: R1-16); a
root-owned or unknown display is refused; ``--desktop-user root`` is the one way to root.
The sockets are real Unix sockets in a temporary directory, owned by whoever runs the tests.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from veo.agent.device import desktop_seat
from veo.agent.device.desktop_seat import DisplayOwnerError

ME = pwd.getpwuid(os.getuid())
#: Who owns the test's X socket: as root, an ordinary account (a socket root owns is refused).
OWNER = pwd.getpwnam("nobody") if os.getuid() == 0 else ME
#: The listener's interpreter: any account may run the system's (the tests' may sit in root's home).
PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable


def listen_as(path: Path, uid: int, gid: int) -> tuple[socket.socket, subprocess.Popen[bytes]]:
    """Bind ``path`` here, and call ``listen`` in a child running as ``uid``: the kernel then
    names ``uid`` as the listener (``SO_PEERCRED``), as for an X server run by that account."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    code = (
        f"import socket, sys; s = socket.socket(fileno={server.fileno()}); s.listen(4); "
        "print('ready', flush=True); sys.stdin.read()"
    )
    switch: dict[str, int] = {"user": uid, "group": gid} if os.getuid() == 0 and uid != 0 else {}
    child = subprocess.Popen(
        [PYTHON, "-c", code],
        pass_fds=(server.fileno(),),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        **switch,  # type: ignore[arg-type]
    )
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    return server, child


def stop(server: socket.socket, child: subprocess.Popen[bytes]) -> None:
    assert child.stdin is not None
    child.stdin.close()
    child.wait(10)
    server.close()


@pytest.fixture
def sockets(tmp_path: Path) -> Iterator[Path]:
    """``X5`` a real socket (file and listener :data:`OWNER`'s); ``X6`` a plain file; ``X7`` a
    symbolic link; ``X8`` a socket nothing listens on (a stale one)."""
    directory = tmp_path / "x11"
    directory.mkdir()
    server, child = listen_as(directory / "X5", OWNER.pw_uid, OWNER.pw_gid)
    if os.getuid() == 0:
        os.lchown(directory / "X5", OWNER.pw_uid, OWNER.pw_gid)
    (directory / "X6").write_text("")
    (directory / "X7").symlink_to(directory / "X5")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(directory / "X8"))
    stale.close()
    try:
        yield directory
    finally:
        stop(server, child)


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
    server, child = listen_as(sockets / "X4", 0, 0)  # an Xvfb root started
    try:
        with pytest.raises(DisplayOwnerError) as refused:
            desktop_seat.explicit(":4", None, {}, euid=0, socket_dir=sockets)
    finally:
        stop(server, child)
    assert refused.value.problem == "root" and refused.value.display == ":4"


@pytest.mark.skipif(os.getuid() != 0, reason="files of other owners need the tests to run as root")
def test_the_listener_names_the_user_not_the_file(tmp_path: Path) -> None:
    """R1-16: a file in /tmp/.X11-unix someone else created says nothing; the X server (the
    process listening) is asked. A root X server behind a file handed to an ordinary account
    is root's display (refused), and an ordinary account's X server behind a root-owned file
    is that account's."""
    directory = tmp_path / "x11"
    directory.mkdir()
    server, child = listen_as(directory / "X3", 0, 0)
    try:
        os.lchown(directory / "X3", OWNER.pw_uid, OWNER.pw_gid)  # the file says: nobody's
        assert desktop_seat.listener_uid(directory / "X3") == 0
        with pytest.raises(DisplayOwnerError) as refused:
            desktop_seat.explicit(":3", None, {}, euid=0, socket_dir=directory)
        assert refused.value.problem == "root"
    finally:
        stop(server, child)
    (directory / "X3").unlink()
    server, child = listen_as(directory / "X3", OWNER.pw_uid, OWNER.pw_gid)
    try:
        os.lchown(directory / "X3", 0, 0)  # the file says: root's
        desktop = desktop_seat.explicit(":3", None, {}, euid=0, socket_dir=directory)
        assert desktop is not None and desktop.uid == OWNER.pw_uid
    finally:
        stop(server, child)


def test_a_root_owner_found_by_stat_is_refused(sockets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # whoever runs the tests: make the socket's owner root as far as explicit() can tell
    monkeypatch.setattr(desktop_seat, "display_owner", lambda display, socket_dir: pwd.getpwuid(0))
    with pytest.raises(DisplayOwnerError) as refused:
        desktop_seat.explicit(":5", None, {}, euid=0, socket_dir=sockets)
    assert refused.value.problem == "root"


@pytest.mark.parametrize(
    "display", [":9", ":6", ":7", ":8", "remote.example:0", "localhost:10.0", "nonsense"]
)
def test_as_root_an_unknown_display_is_refused(sockets: Path, display: str) -> None:
    """No socket, a plain file, a symbolic link, a stale socket, a remote display: nobody's to guess."""
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
