"""The drop scenario: the link goes down mid-typing for N seconds, then comes back.

Issue 13 asks how long a resumed session takes to be usable again: from the link's return to the
first new frame in the console, and to the first input the user's computer accepts (aims: 2 s and
3 s), without the user having to read the code again. All three are read from what the technician
sees, as every other figure of the bench:

* the workload types on its own (8 characters a second) and, started with ``--keys``, shows the
  keys it receives in a second row of blocks above the timestamp (:mod:`.workload`);
* the bench types in the console: ``a`` before the drop (the input path works), ``x`` while the link
  is down (these must never arrive: input is frozen while reconnecting), and digits from the
  moment the link is back, one every :data:`KEY_INTERVAL` seconds;
* the probe records each change of the two rows with the page's clock (the wall clock the link's
  return is stamped with);
* first new frame = the first frame after the return whose timestamp differs from the last one
  shown before it; first accepted input = the first frame that shows a digit, i.e. a key typed
  after the return;
* the code was read again if the console showed its *Codes match* button again (a resume
  verified by the resume secret needs nobody to compare codes).
"""

from __future__ import annotations

import contextlib
import string
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from playwright.sync_api import Error as PlaywrightError

from veo.bench.stream.display import Display
from veo.bench.stream.lab import Lab
from veo.bench.stream.measure import median_of
from veo.bench.stream.procs import BenchError, Processes
from veo.bench.stream.veo_pipeline import VeoSession

#: seconds between two keys typed in the console
KEY_INTERVAL = 0.1
#: how long after the return the bench waits for a new frame and an accepted key
RECOVERY_TIMEOUT = 45.0
BEFORE, DURING = "a", "x"
AFTER = string.digits

Event = tuple[float, int | None, int | None]

_FOCUS_INPUT = """() => {
  const el = document.getElementById("remote-input");
  if (el && document.activeElement !== el) el.focus();
  return !!el && document.activeElement === el;
}"""


@dataclass
class DropResult:
    """One drop: when the link went and came back, and what the technician saw after."""

    resolution: str
    network: str
    down_seconds: float
    #: ms from the link's return to the first new frame / the first key typed after it shown
    first_frame_ms: float | None = None
    first_input_ms: float | None = None
    #: the console asked for the code comparison again
    code_asked_again: bool = False
    #: keys typed while the link was down that reached the user's program (must be 0)
    outage_keys_shown: int = 0
    #: a key typed before the drop reached the program (else the input figures mean nothing)
    input_worked_before: bool = False
    #: ms from a key typed before the drop to its picture (the same path's latency, for scale)
    input_before_ms: float | None = None
    #: the link's change times, wall clock in ms (to line the logs up with)
    down_at_ms: float | None = None
    up_at_ms: float | None = None
    #: the console's side from the link's loss on: (ms after the return, what), as
    #: "pc2 connected" or "signaling <- offer": where the recovery's time went
    timeline: list[tuple[float, str]] = field(default_factory=list)
    #: what the console and the agent said, for the reader
    console_state_after: str | None = None
    agent_lines: list[str] = field(default_factory=list)
    note: str | None = None

    def line(self) -> str:
        def f(value: float | None) -> str:
            return "none" if value is None else f"{value / 1000:.2f} s"

        text = (
            f"drop {self.resolution} {self.network}, link down {self.down_seconds:g} s: after its return, "
            f"first new frame {f(self.first_frame_ms)} (aim <= 2 s), first accepted input "
            f"{f(self.first_input_ms)} (aim <= 3 s); code read again: "
            f"{'yes' if self.code_asked_again else 'no'}; keys typed during the outage shown: "
            f"{self.outage_keys_shown}; input before the drop "
            f"{'worked' if self.input_worked_before else 'did NOT work'} ({f(self.input_before_ms)})"
        )
        if self.note:
            text += f"; {self.note}"
        return text

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def key_char(value: int | None) -> str | None:
    """The character of the key row's value (its low byte), or None."""
    return None if value is None else chr(value & 0xFF)


def analyse(events: Sequence[Event], down_at: float, up_at: float, result: DropResult) -> None:
    """Fill ``result``'s frame and input figures from the probe's events (pure: unit-tested)."""
    shown_before = [value for t, value, _ in events if t < up_at and value is not None]
    last_before = shown_before[-1] if shown_before else None
    for t, value, _ in events:
        if t >= up_at and value is not None and value != last_before:
            result.first_frame_ms = t - up_at
            break
    for t, _, keys in events:
        if t >= up_at and (char := key_char(keys)) is not None and char in AFTER:
            result.first_input_ms = t - up_at
            break
    result.outage_keys_shown = len({keys for _, _, keys in events if key_char(keys) == DURING})
    result.input_worked_before = any(t < down_at and key_char(keys) == BEFORE for t, _, keys in events)


class _Typist:
    """Keys typed into the console's input layer, each with the wall-clock time it was typed."""

    def __init__(self, session: VeoSession) -> None:
        self.page = session.page
        self.typed: list[tuple[float, str]] = []

    def press(self, key: str) -> None:
        with contextlib.suppress(PlaywrightError):
            self.page.evaluate(_FOCUS_INPUT)
            self.typed.append((time.time() * 1000, key))
            self.page.keyboard.press(key)

    def code_asked(self) -> bool:
        with contextlib.suppress(PlaywrightError):
            return bool(self.page.is_visible("#sas-match"))
        return False


def run_drop(
    session: VeoSession, display: Display, lab: Lab, procs: Processes, network: str, down_seconds: float
) -> DropResult:
    """Type, drop the link for ``down_seconds``, bring it back, and time the recovery."""
    result = DropResult(f"{display.width}x{display.height}", network, down_seconds)
    argv = [sys.executable, "-m", "veo.bench.stream.workload", "typing", str(display.width),
            str(display.height), "--keys"]  # fmt: skip
    app = procs.start("workload-drop", lab.in_user(argv), env=display.env(), stdout_pipe=True)
    from veo.bench.stream.runner import WorkloadOutput  # the runner imports this module

    typist = _Typist(session)
    up_at: float | None = None
    try:
        WorkloadOutput(app).ready(60)
        time.sleep(2.0)
        session.alive()
        session.probe.reset()
        # the input path works before the drop: a key shows within a few seconds
        for _ in range(3):
            typist.press(BEFORE)
            time.sleep(0.5)
        result.input_worked_before = any(key_char(k) == BEFORE for _, _, k in session.probe.events())
        time.sleep(1.0)  # mid-typing: the workload keeps typing on its own
        down_at = lab.set_link(False)
        try:
            deadline = time.monotonic() + down_seconds
            while time.monotonic() < deadline:
                typist.press(DURING)
                result.code_asked_again |= typist.code_asked()
                time.sleep(0.5)
        finally:
            up_at = lab.set_link(True)
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        index = 0
        while time.monotonic() < deadline:
            typist.press(AFTER[index % len(AFTER)])
            index += 1
            result.code_asked_again |= typist.code_asked()
            analyse(session.probe.events(), down_at, up_at, result)
            if result.first_frame_ms is not None and result.first_input_ms is not None:
                break
            if session.agent is not None and not session.agent.running():
                result.note = "the agent exited"
                break
            time.sleep(KEY_INTERVAL)
        events = session.probe.events()
        analyse(events, down_at, up_at, result)
        result.down_at_ms, result.up_at_ms = down_at, up_at
        result.timeline = _timeline(session, down_at, up_at)
        result.input_before_ms = _before_latency(events, typist.typed, down_at)
        if result.first_input_ms is None and result.note is None:
            result.note = f"no key typed after the return showed within {RECOVERY_TIMEOUT:g} s"
        with contextlib.suppress(PlaywrightError):
            result.console_state_after = session.page.get_attribute("#conn-state", "data-state")
        result.agent_lines = _agent_lines(session)
    except BenchError as exc:
        result.note = f"failed: {str(exc).splitlines()[0]}"
    finally:
        if up_at is None:  # never leave the link down for the cases that follow
            with contextlib.suppress(BenchError):
                lab.set_link(True)
        procs.stop(app)
    return result


def _before_latency(events: list[Event], typed: list[tuple[float, str]], down_at: float) -> float | None:
    """From the first ``a`` typed to the first frame showing an ``a`` (before the drop)."""
    pressed = [t for t, key in typed if key == BEFORE]
    shown = [t for t, _, keys in events if t < down_at and key_char(keys) == BEFORE]
    if not pressed or not shown:
        return None
    return shown[0] - pressed[0]


#: signaling messages that say nothing about the recovery (sent all the time)
_CHATTER = ("signaling <- heartbeat", "signaling -> heartbeat", "signaling <- ice", "signaling -> ice")


def _timeline(session: VeoSession, down_at: float, up_at: float) -> list[tuple[float, str]]:
    with contextlib.suppress(PlaywrightError):
        return [
            (float(round(t - up_at)), what)
            for t, what in session.probe.timeline()
            if t >= down_at and not what.startswith(_CHATTER)
        ][:40]
    return []


def _agent_lines(session: VeoSession) -> list[str]:
    """The agent's log lines about the interruption and the resume (what it says it did)."""
    words = ("interrupt", "resum", "reconnect", "verify", "lost")
    return [line[-200:] for line in session.log.lines() if any(w in line.lower() for w in words)][:12]


def medians_line(results: list[DropResult]) -> str | None:
    """With more than one drop: the medians of the two recovery times over the drops that had one."""
    if len(results) < 2:
        return None

    def f(values: list[float | None]) -> str:
        value = median_of(values)
        return "none" if value is None else f"{value / 1000:.2f} s"

    asked = sum(r.code_asked_again for r in results)
    return (
        f"drop medians over {len(results)} drops: first new frame {f([r.first_frame_ms for r in results])}, "
        f"first accepted input {f([r.first_input_ms for r in results])}; code read again in {asked}"
    )
