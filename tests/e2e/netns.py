"""A throwaway network namespace with ``lo`` and a veth pair, and a way to talk HTTP inside it.

Why a namespace: aioice drops 127.0.0.1 from its host candidates, so the agent and Chromium could
not connect over plain loopback; inside a namespace a veth pair (10.99.0.1 / 10.99.0.2) gives both
a normal host address while nothing can leave the namespace.

Why a worker thread that ``setns()``-es: the server listens on 127.0.0.1 *inside* the namespace,
unreachable from the test process. ``setns`` switches only the calling thread, so one dedicated
thread does every HTTP call of the test and all its sockets live in the namespace.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

CLONE_NEWNET = 0x40000000
ADDRESSES = ("10.99.0.1/24", "10.99.0.2/24")
T = TypeVar("T")


class NamespaceError(RuntimeError):
    """The namespace could not be created or entered (not root, no ``ip``, ...)."""


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NamespaceError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")


class NetworkNamespace:
    """``ip netns add <name>``; lo up; veth v0/v1 both inside with 10.99.0.1 and 10.99.0.2."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._executor: ThreadPoolExecutor | None = None
        self._http: httpx.Client | None = None

    def create(self) -> None:
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
            _ip("-n", self.name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
            for device, address in zip(("v0", "v1"), ADDRESSES, strict=True):
                _ip("-n", self.name, "addr", "add", address, "dev", device)
                _ip("-n", self.name, "link", "set", device, "up")
        except NamespaceError:
            self.delete()
            raise

    def delete(self) -> None:
        if self._executor is not None:
            if self._http is not None:
                self._executor.submit(self._http.close).result()
            self._executor.shutdown(wait=True)
            self._executor = None
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)

    def command(self, argv: Sequence[str]) -> list[str]:
        """The argv that runs ``argv`` inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    # ------------------------------------------------------------ code inside the namespace

    def _enter(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                errno = ctypes.get_errno()
                raise NamespaceError(f"setns({self.name}) failed: {os.strerror(errno)}")
        finally:
            os.close(fd)

    def run_inside(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the thread that lives in the namespace and return its result."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"netns-{self.name}", initializer=self._enter
            )
        return self._executor.submit(fn, *args).result()

    def http(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """An HTTP request made from inside the namespace (``url`` may use 127.0.0.1)."""

        def call() -> httpx.Response:
            if self._http is None:
                self._http = httpx.Client(timeout=15.0, follow_redirects=False, trust_env=False)
            return self._http.request(method, url, **kwargs)

        return self.run_inside(call)
