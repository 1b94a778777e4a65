"""The portal client's pure parts: stream parsing, request paths, what counts as control, the
bound on queued input."""

import asyncio
import os
import time
from types import SimpleNamespace

import pytest
from dbus_fast import Variant

from veo.agent.backend import BackendError
from veo.agent.desktop import StreamInfo
from veo.agent.portal.bus import PortalGrant, PortalSession, parse_streams
from veo.agent.portal.desktop import control_of
from veo.agent.portal.request import sender_path_part


def test_request_path_part_follows_the_portal_rule() -> None:
    assert sender_path_part(":1.42") == "1_42"


def test_streams_parsed_with_missing_fields_as_zero() -> None:
    value = [
        [37, {"position": Variant("(ii)", [1280, 0]), "size": Variant("(ii)", [1920, 1080]),
              "id": Variant("s", "1")}],
        [38, {}],  # wlroots may give neither position nor size
    ]  # fmt: skip
    assert parse_streams(value) == (StreamInfo(37, 1280, 0, 1920, 1080), StreamInfo(38, 0, 0, 0, 0, ""))
    assert parse_streams(None) == ()


def grant(remote_desktop: bool, devices: int) -> PortalGrant:
    return PortalGrant((StreamInfo(1, 0, 0, 10, 10),), -1, remote_desktop, devices, True)


def test_control_needs_the_keyboard_and_the_pointer() -> None:
    assert control_of(True, grant(True, 3)) == (True, None)
    assert control_of(True, grant(True, 2)) == (False, "control_refused")
    assert control_of(True, grant(True, 0)) == (False, "control_refused")
    assert control_of(True, grant(False, 0)) == (False, "no_remote_desktop")
    # refused in veo's own dialog: the portal session has no input, and cannot gain it later
    assert control_of(False, grant(True, 3)) == (False, "control_at_start")


def test_notify_before_open_or_after_close_is_dropped() -> None:
    session = PortalSession("unix:path=/nonexistent")
    session.notify("NotifyPointerButton", "iu", 0x110, 1)  # no loop yet: nothing, no error


class StuckBus:
    """A bus whose compositor takes the first notification and never answers it."""

    def __init__(self) -> None:
        self.calls = 0
        self.never = asyncio.Event()
        self.connected = False

    def disconnect(self) -> None:
        pass

    async def call(self, message: object) -> object:
        self.calls += 1
        await self.never.wait()
        raise AssertionError("never answered")


async def test_a_flood_of_input_waits_for_the_bus_instead_of_queueing_without_end() -> None:
    """A console sending faster than the compositor answers must not grow a queue of D-Bus
    calls without end: at most ``max_queued`` wait, the input thread is held back, and once the
    compositor stops answering altogether the rest is dropped (the thread never hangs)."""
    session = PortalSession("unix:path=/nonexistent", step_timeout=60, max_queued=8, queue_wait=0.2)
    bus = StuckBus()
    session._loop, session._bus, session._session = asyncio.get_running_loop(), bus, "/s"  # type: ignore[assignment]
    session._remote_desktop = True
    most = 0

    def flood() -> None:  # the input worker's thread
        nonlocal most
        for _ in range(2000):
            session.notify("NotifyKeyboardKeysym", "iu", 0x61, 1)
            most = max(most, session._queued)

    started = time.monotonic()
    await asyncio.to_thread(flood)
    assert time.monotonic() - started < 5  # one wait for room, then dropped at once
    await asyncio.sleep(0.05)
    assert bus.calls == 1  # one at a time, each after the previous reply
    assert most <= 8 and len(session._outbox) <= 8
    await session.close()
    assert session._queued == 0 and not session._outbox


@pytest.mark.parametrize("index", [2, -1])
async def test_a_bad_pipewire_answer_leaks_no_descriptor(index: int) -> None:
    """``OpenPipeWireRemote`` naming no descriptor it passed: every one it did pass is closed."""
    session = PortalSession("unix:path=/nonexistent")
    session._session = "/s"
    passed = [os.open(os.devnull, os.O_RDONLY) for _ in range(2)]

    async def call(*_: object) -> SimpleNamespace:
        return SimpleNamespace(body=[index], unix_fds=list(passed))

    session._call = call  # type: ignore[method-assign,assignment]
    with pytest.raises(BackendError) as raised:
        await session._pipewire_fd()
    assert raised.value.reason == "portal_failed"
    for fd in passed:
        with pytest.raises(OSError):
            os.fstat(fd)
