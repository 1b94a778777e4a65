"""The per-frame stage timeline: stamps in order, carried to the encoder and the sender, one
line per frame that the bench's parser reads; nothing when off."""

from __future__ import annotations

import asyncio
import fractions
import logging
from typing import Any

import av
import pytest
from tests.unit.agent.test_agent_stream import FakeScreen, _stop, damage_track

from veo.agent import timeline
from veo.agent.stream import ScreenTrack
from veo.bench.stream.timeline import parse_line

ORDER = ("wake", "grab", "grabbed", "compare", "convert", "encode_start", "encode_end", "sent")


def test_the_line_is_what_the_bench_parses() -> None:
    times = timeline.FrameTimes(
        1.0, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, pts=1800, bytes=321, width=64, height=48
    )
    line = times.line()
    assert line.startswith("frame-timeline pts=1800 wake=1.000 grab=2.000 compare=3.000 convert=4.000")
    frame = parse_line("2026-12-07 INFO veo.agent.timeline " + line)
    assert frame is not None and (frame.bytes, frame.width, frame.height) == (321, 64, 48)
    assert frame.times["encode_end"] == 6.0 and frame.times["sent"] == 7.0


def test_the_ledger_is_bounded() -> None:
    ledger = timeline.Ledger(size=2)
    for pts in range(3):
        ledger.file(timeline.FrameTimes(pts=pts))
    assert ledger.get(0) is None and ledger.take(2) is not None and ledger.take(2) is None


def test_the_encoder_wrapper_stamps_the_filed_frame_and_leaves_others_alone() -> None:
    ledger = timeline.Ledger()

    class Encoder:
        def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
            return [b"abc", b"de"], frame.pts

    encoder = timeline.timed_encoder(Encoder(), ledger)
    frame = av.VideoFrame(16, 16, "yuv420p")
    frame.pts, frame.time_base = 900, fractions.Fraction(1, 90_000)
    times = timeline.FrameTimes(pts=900)
    ledger.file(times)
    assert encoder.encode(frame, False) == ([b"abc", b"de"], 900)
    assert 0 < times.encode_start <= times.encode_end and times.bytes == 5
    frame.pts = 1800  # not filed (timeline off for it): encoded all the same
    assert encoder.encode(frame) == ([b"abc", b"de"], 1800)
    assert Encoder().encode(frame)[1] == 1800  # the class is untouched


def test_off_unless_the_environment_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(timeline.ENV, raising=False)
    assert not timeline.enabled() and not timeline.install()
    track = ScreenTrack(lambda: FakeScreen(8, 8), damage_factory=None)
    assert not track._timeline
    monkeypatch.setenv(timeline.ENV, "1")
    assert timeline.enabled()


async def test_the_track_stamps_each_frame_in_order_and_files_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(timeline.ENV, "1")
    screen = FakeScreen(64, 48)
    track, watchers = damage_track(screen, fps=1000.0)
    try:
        track.allow()
        await track.recv()
        screen.pixels[4:6, 4:6, 1] = 200
        watchers[0].on_damage()
        await asyncio.sleep(0.02)  # noticed well before the grab
        frame = await asyncio.wait_for(track.recv(), 30)
    finally:
        _stop(track)
    assert frame.pts is not None
    times = timeline.LEDGER.take(frame.pts)
    assert times is not None and (times.width, times.height) == (64, 48)
    stamps = [getattr(times, name) for name in ORDER[:5]]
    assert stamps == sorted(stamps) and stamps[0] > 0
    assert times.grab - times.wake >= 15  # ms: the wake is the damage's, not the grab's


async def test_the_sender_hook_logs_a_line_once_the_frame_was_sent(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Through aiortc's real ``_next_encoded_frame`` wrapper, with a stand-in for the stock one."""
    import aiortc.rtcrtpsender as rtcrtpsender

    monkeypatch.setenv(timeline.ENV, "1")
    encoded = [
        rtcrtpsender.RTCEncodedFrame([b"x" * 10], 3600, 0),
        rtcrtpsender.RTCEncodedFrame([b"y"], 7200, 0),
    ]

    async def stock(sender: Any, codec: Any) -> Any:
        return encoded.pop(0)

    monkeypatch.setattr(rtcrtpsender.RTCRtpSender, "_next_encoded_frame", stock)
    monkeypatch.setattr(timeline, "_installed", False)
    timeline.LEDGER.file(timeline.FrameTimes(wake=1.0, pts=3600, width=8, height=8))
    assert timeline.install()

    class Sender:
        pass

    sender: Any = Sender()
    hook: Any = rtcrtpsender.RTCRtpSender._next_encoded_frame
    caplog.set_level(logging.INFO, logger="veo.agent.timeline")
    await hook(sender, None)
    assert not [r for r in caplog.records if r.getMessage().startswith("frame-timeline ")]  # not sent yet
    await hook(sender, None)  # aiortc is back: it was
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("frame-timeline ")]
    parsed = parse_line(line)
    assert parsed is not None and parsed.times["sent"] > parsed.times["wake"] == 1.0
