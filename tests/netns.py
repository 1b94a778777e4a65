"""Private network namespaces for tests whose WebRTC media must not use plain loopback.

aioice drops 127.0.0.1 from its host candidates (``../shared/field-notes.md``), so two peers on
one machine need another interface: a namespace holds ``lo`` and a veth pair whose two ends both
stay inside it, so nothing can leave. Threads enter it with :func:`enter_netns`.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextmanager
def private_netns(prefix: str, subnet: str) -> Iterator[str]:
    """A namespace ``<prefix>-<pid>`` with ``lo`` up and veth ends ``<subnet>.1``/``<subnet>.2``."""
    name = f"{prefix}-{os.getpid()}"
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
        for device, host in (("v0", 1), ("v1", 2)):
            _ip("-n", name, "addr", "add", f"{subnet}.{host}/24", "dev", device)
            _ip("-n", name, "link", "set", device, "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def enter_netns(name: str) -> None:
    """Move the calling thread (only it) into the namespace ``name``."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name} failed")
    finally:
        os.close(fd)
