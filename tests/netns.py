"""Private network namespaces for tests whose WebRTC media must not use plain loopback.

aioice drops 127.0.0.1 from its host candidates (``../shared/field-notes.md``), so two peers on
one machine need another interface: a namespace holds ``lo`` and a veth pair whose two ends both
stay inside it, so nothing can leave. Threads enter it with :func:`enter_netns`.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

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


#: The shell steps that give an ``unshare -n`` namespace ``lo`` and a veth pair 10.99.0.1/.2.
UNSHARED_SETUP = (
    "ip link set lo up && ip link add v0 type veth peer name v1 && "
    "ip addr add 10.99.0.1/24 dev v0 && ip addr add 10.99.0.2/24 dev v1 && "
    "ip link set v0 up && ip link set v1 up"
)


def only_in_namespace(flag: str, parent: str) -> pytest.MarkDecorator:
    """Mark a test that runs only in the namespace :func:`rerun_in_namespace` makes for ``parent``."""
    return pytest.mark.skipif(
        os.environ.get(flag) != "1", reason=f"runs inside the namespace made by {parent}"
    )


def rerun_in_namespace(test_file: str, flag: str, timeout: float) -> None:
    """Run ``test_file``'s ``in_namespace`` tests again in a private ``unshare -n`` namespace.

    For a whole browser and a peer in one test process: Chromium cannot be moved into a namespace
    thread by thread, so the file runs again inside one, with ``flag`` set, and must pass there
    (nothing skipped).
    """
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs root, unshare and ip to make a network namespace")
    command = f'{UNSHARED_SETUP} && exec "$0" -m pytest -q -p no:cacheprovider "$1" -k in_namespace'
    proc = subprocess.run(
        ["unshare", "-n", "sh", "-c", command, sys.executable, test_file],
        env={**os.environ, flag: "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-3000:]
