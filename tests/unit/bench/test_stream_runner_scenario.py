"""runner: the drop scenario goes through the one scenario frame (session set-up, failures, close)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from veo.bench.stream import runner
from veo.bench.stream.procs import BenchError


class FakeSession:
    made: list[dict[str, Any]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        FakeSession.made.append(kwargs)
        self.closed = False

    def close(self) -> None:
        self.closed = True


def world() -> Any:
    plan = SimpleNamespace(drop_seconds=5.0, consoles=[(1366, 768)], codecs=["h264"])
    lines: list[str] = []
    return SimpleNamespace(
        plan=plan, lab=None, procs=None, server=None, browser=None, workdir=None, tech_inode=1,
        progress=lines.append, lines=lines, failures=[], drops=[],
    )  # fmt: skip


def test_the_drop_asks_for_control_in_the_first_console_size_and_records_its_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    FakeSession.made.clear()
    result = SimpleNamespace(line=lambda: "drop line", timeline=[(250.0, "frame")], agent_lines=["back"])
    monkeypatch.setattr(runner, "VeoSession", FakeSession)
    monkeypatch.setattr(runner, "run_drop", lambda *args: result)
    w = world()
    runner._drop(
        w, cast(Any, SimpleNamespace(width=800, height=600)), cast(Any, SimpleNamespace(name="poor")), 1
    )
    assert FakeSession.made == [{"control": True, "console": (1366, 768)}]
    assert w.drops == [result] and w.failures == []
    assert w.lines == [
        "drop 800x600 poor run 1: session set-up",
        "  drop line",
        "    console +0.25 s after the return: frame",
        "    agent: back",
    ]


def test_a_drop_that_cannot_set_up_its_session_is_one_failure_of_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise BenchError("no agent\nmore detail")

    monkeypatch.setattr(runner, "VeoSession", refuse)
    w = world()
    runner._drop(
        w, cast(Any, SimpleNamespace(width=800, height=600)), cast(Any, SimpleNamespace(name="poor")), 2
    )
    assert w.failures == ["drop 800x600 poor run 2: no agent"] and w.drops == []
