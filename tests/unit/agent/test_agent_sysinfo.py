"""System information: the collected fields are true for this machine, and nothing leaves before Send."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import psutil
import pytest

from veo.agent import sysinfo
from veo.agent.events import SysinfoAsk, SysinfoClosed, UiEvent
from veo.i18n import gettext_for
from veo.protocol.datachannel import AgentDataMessage
from veo.protocol.sysinfo import Sysinfo, SysinfoDeclined, SysinfoRequest, describe, uptime_text
from veo.sizes import size_text


@pytest.fixture(scope="module")
def info() -> dict[str, Any]:
    return sysinfo.collect(("python3", "surely-not-a-program-veo"))


def test_identity_fields_are_this_machine(info: dict[str, Any]) -> None:
    assert info["hostname"] == socket.gethostname()
    assert info["os"]["system"] == platform.system()
    assert info["os"]["release"] == platform.release()
    assert info["cpu"]["logical"] == psutil.cpu_count(logical=True)
    assert info["memory"]["total"] == psutil.virtual_memory().total
    assert abs(info["uptime_seconds"] - (time.time() - psutil.boot_time())) < 60


def test_disks_interfaces_processes(info: dict[str, Any]) -> None:
    root = next(d for d in info["disks"] if d["mount"] == "/")
    usage = psutil.disk_usage("/")
    assert root["total"] == usage.total
    assert abs(root["free"] - usage.free) < 512 * 1024 * 1024  # other tests write meanwhile
    names = {n["name"] for n in info["network"]}
    assert names == set(psutil.net_if_addrs())
    lo = next(n for n in info["network"] if n["name"] == "lo")
    assert "127.0.0.1" in lo["addresses"]
    pids = {p["pid"] for p in info["processes_by_cpu"] + info["processes_by_memory"]}
    assert pids and len(info["processes_by_memory"]) <= sysinfo.TOP_PROCESSES
    biggest = max(info["processes_by_memory"], key=lambda p: p["rss"])
    assert info["processes_by_memory"][0] == biggest


def test_program_versions(info: dict[str, Any]) -> None:
    python, missing = info["programs"]
    assert python["found"] and python["version"].startswith("Python 3")
    assert missing == {"name": "surely-not-a-program-veo", "found": False, "version": ""}


def test_fits_one_message_and_is_json(info: dict[str, Any]) -> None:
    text = Sysinfo(info=info).dumps()
    assert len(text) < sysinfo.MAX_BYTES + 1024
    assert json.loads(text)["info"]["hostname"] == socket.gethostname()


def test_parse_xrandr() -> None:
    out = (
        "Screen 0: minimum 8 x 8, current 1920 x 1080, maximum 32767 x 32767\n"
        "default connected primary 1280x720+0+0 0mm x 0mm\n"
        "HDMI-1 connected 1920x1080+1280+0 (normal left inverted) 530mm x 300mm\n"
        "DP-1 disconnected (normal left inverted right x axis y axis)\n"
    )
    assert sysinfo.parse_xrandr(out) == [
        {"name": "default", "primary": True, "width": 1280, "height": 720, "x": 0, "y": 0},
        {"name": "HDMI-1", "primary": False, "width": 1920, "height": 1080, "x": 1280, "y": 0},
    ]


def test_parse_programs() -> None:
    assert sysinfo.parse_programs(None) == sysinfo.DEFAULT_PROGRAMS
    assert sysinfo.parse_programs(" git, firefox,,git ") == ("git", "firefox")
    assert sysinfo.parse_programs("") == ()
    for bad in ("rm -rf", "/usr/bin/git", "a;b", "x" * 65):
        with pytest.raises(ValueError, match="not a program name"):
            sysinfo.parse_programs(bad)
    with pytest.raises(ValueError, match="at most"):
        sysinfo.parse_programs(",".join(f"p{i}" for i in range(21)))


def test_programs_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sysinfo.PROGRAMS_ENV, "git,ssh")
    assert sysinfo.programs_from_env() == ("git", "ssh")
    monkeypatch.delenv(sysinfo.PROGRAMS_ENV)
    assert os.environ.get(sysinfo.PROGRAMS_ENV) is None
    assert sysinfo.programs_from_env() == sysinfo.DEFAULT_PROGRAMS


def test_describe_shows_every_value(info: dict[str, Any]) -> None:
    text = "\n".join(t + "\n" + "\n".join(lines) for t, lines in describe(info, gettext_for("en"), "en"))
    assert socket.gethostname() in text
    assert size_text(info["memory"]["total"], gettext_for("en"), "en") in text
    for n in info["network"]:
        assert n["name"] in text
    for p in info["processes_by_cpu"]:
        assert str(p["pid"]) in text
    assert "surely-not-a-program-veo: not installed" in text


@pytest.mark.parametrize(
    ("seconds", "english", "spanish"),
    [
        (59, "0 minutes", "0 minutos"),
        (3_900, "1 hour and 5 minutes", "1 hora y 5 minutos"),
        (3 * 86_400 + 4 * 3600 + 120, "3 days and 4 hours", "3 días y 4 horas"),
        (86_400, "1 day", "1 día"),
    ],
)
def test_uptime_in_words(seconds: int, english: str, spanish: str) -> None:
    assert uptime_text(gettext_for("en"), "en", seconds) == english
    assert uptime_text(gettext_for("es"), "es", seconds) == spanish


def test_sizes_in_the_readers_words() -> None:
    for language, expected in (
        ("en", ["1 byte", "100 bytes", "1.5 kB", "15.6 GB"]),
        ("es", ["1 byte", "100 bytes", "1,5 kB", "15,6 GB"]),
    ):
        catalog = gettext_for(language)
        assert [size_text(n, catalog, language) for n in (1, 100, 1536, 15_600_000_000)] == expected


class FakePeer:
    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[Any], None]] = {}
        self.sent: list[AgentDataMessage] = []

    def on_data(self, message_type: str, handler: Callable[[Any], None]) -> None:
        self.handlers[message_type] = handler

    def send_data(self, message: AgentDataMessage) -> None:
        self.sent.append(message)

    def data_open(self) -> bool:
        return True


def fake_collect(programs: Sequence[str]) -> dict[str, Any]:
    return {"hostname": "h", "programs": [{"name": p} for p in programs]}


async def ask(flow: sysinfo.AgentSysinfo, peer: FakePeer, events: list[UiEvent]) -> SysinfoAsk:
    peer.handlers["sysinfo_request"](SysinfoRequest())
    for _ in range(200):
        if events:
            break
        await asyncio.sleep(0.01)
    (event,) = events
    assert isinstance(event, SysinfoAsk)
    return event


async def test_nothing_is_sent_before_send_and_exactly_what_was_shown() -> None:
    peer, events = FakePeer(), list[UiEvent]()
    flow = sysinfo.AgentSysinfo(peer, events.append, ("git",), collector=fake_collect)
    event = await ask(flow, peer, events)
    assert peer.sent == []  # shown, not sent
    assert event.info == {"hostname": "h", "programs": [{"name": "git"}]}
    peer.handlers["sysinfo_request"](SysinfoRequest())  # a second request while one is open
    await asyncio.sleep(0.05)
    assert len(events) == 1 and peer.sent == []
    flow.send()
    assert peer.sent == [Sysinfo(info=event.info)]
    flow.send()  # a second click sends nothing more
    assert len(peer.sent) == 1


async def test_decline_sends_only_the_refusal() -> None:
    peer, events = FakePeer(), list[UiEvent]()
    flow = sysinfo.AgentSysinfo(peer, events.append, (), collector=fake_collect)
    await ask(flow, peer, events)
    flow.decline()
    assert peer.sent == [SysinfoDeclined()]
    flow.send()
    assert peer.sent == [SysinfoDeclined()]


async def test_closing_forgets_the_data() -> None:
    peer, events = FakePeer(), list[UiEvent]()
    flow = sysinfo.AgentSysinfo(peer, events.append, (), collector=fake_collect)
    await ask(flow, peer, events)
    flow.close()
    assert events[-1] == SysinfoClosed()
    flow.send()
    assert peer.sent == []


async def test_a_failed_collection_is_declined() -> None:
    def broken(_programs: Sequence[str]) -> dict[str, Any]:
        raise OSError("boom")

    peer, events = FakePeer(), list[UiEvent]()
    sysinfo.AgentSysinfo(peer, events.append, (), collector=broken)
    peer.handlers["sysinfo_request"](SysinfoRequest())
    for _ in range(200):
        if peer.sent:
            break
        await asyncio.sleep(0.01)
    assert peer.sent == [SysinfoDeclined()] and events == []
