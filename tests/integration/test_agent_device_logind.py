"""Finding the desktop through logind, with a stand-in logind on a private bus.

``desktop_seat.find`` asks ``org.freedesktop.login1`` on the system bus (``DBUS_SYSTEM_BUS_ADDRESS``
points it at the private daemon here) for the sessions, picks the active local graphical user
session, and reads that session's display variables from its leader's ``/proc/<pid>/environ``. The
leader here is a real process of the user ``nobody`` carrying a DISPLAY, as a desktop session's
processes do (the test runs as root, as the service does)."""

import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbus_fast import BusType
from dbus_fast.aio import MessageBus
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method
from tests.integration.dbus_support import private_dbus

from veo.agent.device import desktop_seat

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not shutil.which("dbus-daemon"), reason="needs dbus-daemon"),
    pytest.mark.skipif(os.geteuid() != 0, reason="starts a process as another user, as the service would"),
]


class Session(ServiceInterface):
    def __init__(self, values: dict[str, object]) -> None:
        super().__init__("org.freedesktop.login1.Session")
        self.values = values

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> "s":  # type: ignore[name-defined] # noqa: F821
        return str(self.values["Type"])

    @dbus_property(access=PropertyAccess.READ)
    def Class(self) -> "s":  # type: ignore[name-defined] # noqa: F821
        return str(self.values["Class"])

    @dbus_property(access=PropertyAccess.READ)
    def Active(self) -> "b":  # type: ignore[name-defined] # noqa: F821
        return bool(self.values["Active"])

    @dbus_property(access=PropertyAccess.READ)
    def Remote(self) -> "b":  # type: ignore[name-defined] # noqa: F821
        return bool(self.values["Remote"])

    @dbus_property(access=PropertyAccess.READ)
    def State(self) -> "s":  # type: ignore[name-defined] # noqa: F821
        return str(self.values["State"])

    @dbus_property(access=PropertyAccess.READ)
    def Leader(self) -> "u":  # type: ignore[name-defined] # noqa: F821
        return int(self.values["Leader"])  # type: ignore[call-overload]

    @dbus_property(access=PropertyAccess.READ)
    def Display(self) -> "s":  # type: ignore[name-defined] # noqa: F821
        return str(self.values["Display"])


class Manager(ServiceInterface):
    def __init__(self, sessions: list[tuple[str, int, str, str, str]]) -> None:
        super().__init__("org.freedesktop.login1.Manager")
        self.sessions = sessions

    @method()
    def ListSessions(self) -> "a(susso)":  # type: ignore[name-defined] # noqa: F821
        return [list(s) for s in self.sessions]


@pytest.fixture
def leader() -> Iterator[int]:
    """A process of ``nobody`` in "their" desktop session (DISPLAY and XAUTHORITY in its environment)."""
    nobody = pwd.getpwnam("nobody")
    process = subprocess.Popen(
        ["/bin/sleep", "600"],
        env={
            "DISPLAY": ":42",
            "XAUTHORITY": "/run/user/65534/Xauthority",
            "XDG_SESSION_ID": "7",
            "SECRET": "x",
        },
        user=nobody.pw_uid,
        group=nobody.pw_gid,
        cwd="/",
    )
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


async def test_find_picks_the_active_desktop_and_its_environment(
    tmp_path: Path, leader: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VEO_AGENT_DISPLAY", raising=False)
    with private_dbus(tmp_path) as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        bus = await MessageBus(bus_address=address).connect()
        try:
            common = {"Active": True, "Remote": False, "State": "active", "Display": ""}
            bus.export("/org/freedesktop/login1/session/c1", Session(
                common | {"Type": "x11", "Class": "greeter", "Leader": 1}))  # fmt: skip
            bus.export("/org/freedesktop/login1/session/_37", Session(
                common | {"Type": "x11", "Class": "user", "Leader": leader, "Display": ":42"}))  # fmt: skip
            bus.export("/org/freedesktop/login1/session/_38", Session(
                common | {"Type": "tty", "Class": "user", "Leader": 1}))  # fmt: skip
            bus.export("/org/freedesktop/login1", Manager([
                ("c1", 120, "gdm", "seat0", "/org/freedesktop/login1/session/c1"),
                ("7", 65534, "nobody", "seat0", "/org/freedesktop/login1/session/_37"),
                ("8", 65534, "nobody", "", "/org/freedesktop/login1/session/_38"),
            ]))  # fmt: skip
            await bus.request_name("org.freedesktop.login1")
            sessions = await desktop_seat.logind_sessions()
            assert {s.session_id for s in sessions} == {"c1", "7", "8"}
            desktop = await desktop_seat.find(None, None)
        finally:
            bus.disconnect()
    assert desktop is not None
    assert (desktop.user, desktop.uid) == ("nobody", 65534)
    assert desktop.env["DISPLAY"] == ":42" and desktop.env["XAUTHORITY"] == "/run/user/65534/Xauthority"
    assert "SECRET" not in desktop.env
    assert desktop.source.startswith("logind session 7")
    assert BusType.SYSTEM  # the service asks the system bus; here DBUS_SYSTEM_BUS_ADDRESS names ours
