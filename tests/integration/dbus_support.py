"""A private ``dbus-daemon`` for the tests that stand in for the desktop's portal.

Its own bus, not the user's session bus: a fake ``org.freedesktop.portal.Desktop`` can own the
name there without meeting a real portal, and the daemon ends with the test.
"""

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

from dbus_fast import Variant
from dbus_fast.annotations import DBusDict, DBusSignature, DBusUInt32
from dbus_fast.service import ServiceInterface, method, signal

#: a session bus with no activatable services: the real xdg-desktop-portal must not start on it
BUS_CONFIG = """<busconfig>
  <type>session</type>
  <listen>unix:dir={directory}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@contextmanager
def private_dbus(directory: Path) -> Iterator[str]:
    """Start a bus daemon listening in ``directory``; yields its address, stops it afterwards."""
    config = directory / "bus.conf"
    config.write_text(BUS_CONFIG.format(directory=directory))
    daemon = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert daemon.stdout is not None
        yield daemon.stdout.readline().strip()
    finally:
        daemon.terminate()
        daemon.wait(timeout=5)


class Request(ServiceInterface):
    """A portal Request object: the fake answers a step through its ``Response`` signal."""

    def __init__(self) -> None:
        super().__init__("org.freedesktop.portal.Request")

    @signal()
    def Response(
        self, response: DBusUInt32, results: DBusDict
    ) -> Annotated[tuple[int, dict[str, Variant]], DBusSignature("ua{sv}")]:
        return (response, results)


class OnlyInterface(ServiceInterface):
    """A portal exporting one interface that veo does not use for the step tested (one method,
    since dbus-fast exports no empty interface): the absent-interface cases."""

    def __init__(self, name: str) -> None:
        super().__init__(name)

    @method()
    def Nothing(self) -> None:
        pass
