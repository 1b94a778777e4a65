"""Where a frame's milliseconds go: one log line per frame with the time of each stage.

Off unless the environment says ``VEO_STREAM_TIMELINE=1`` (the bench sets it; issue 18's
contract, section 3). Then the agent logs, at INFO on the ``veo.agent.timeline`` logger, one line
for every frame that left aiortc's sender::

    frame-timeline pts=<90 kHz pts> wake=<t> grab=<t> compare=<t> convert=<t> encode_start=<t>
        encode_end=<t> sent=<t> bytes=<n> width=<w> height=<h> grabbed=<t>

(one line; wrapped here)

Every ``<t>`` is ``time.time()`` in milliseconds with three decimals (the wall clock the bench's
workload stamps its pattern with and the page's ``Date.now()`` reads). The stamps, in order:

- ``wake``: the change was noticed: the first X damage event or new PipeWire picture since the
  last capture, the keyframe request, or (an unchanged screen repeated) the repeat timer firing;
  with no change listener, the polling slot;
- ``grab``: the grab *started* (the instant the screen was read; a drawing after it is not in the
  frame): ``wake`` to ``grab`` is the pacer's and the send budget's wait plus the hop to the
  capture thread;
- ``compare``: the tile compare with the previous grab ended (``grab`` to ``compare`` = the grab
  itself plus the compare; the grab alone ends at the extra field ``grabbed``);
- ``convert``: the conversion of the changed tiles ended (equal to ``compare`` for a repeat);
- ``encode_start``, ``encode_end``: the encoder's call, in aiortc's encoder thread
  (``convert`` to ``encode_start`` is the queue: capture thread to event loop to encoder thread);
- ``sent``: ``transport.send`` returned for the frame's last RTP packet (packetization, SRTP and
  the UDP sends of every packet lie between ``encode_end`` and ``sent``);
- ``bytes``: the encoded frame (RTP payloads); ``width``, ``height``: the encoded picture.

Fields may be added at the end (``grabbed`` was); a parser takes them by name.

How the stamps travel: the track keeps a :class:`FrameTimes` per frame and files it in
:data:`LEDGER` under the frame's pts (the RTP timestamp aiortc derives from it); the encoder's
``encode`` is wrapped (:func:`timed_encoder`) to stamp it by ``frame.pts``; a wrapper of aiortc's
``RTCRtpSender._next_encoded_frame`` (:func:`install`) takes it by the encoded frame's timestamp
and stamps ``sent`` when the sender comes back for the next frame, which aiortc does right after
the last packet's send returned (nothing is awaited in between). One screen track per agent
process, so pts are unique in the ledger; it is bounded all the same.

Cheap when off: :func:`install` hooks nothing, and the track skips every stamp on one boolean.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

ENV = "VEO_STREAM_TIMELINE"
MARK = "frame-timeline"
#: frames filed but not (yet) sent that the ledger keeps (a disabled sender drops frames)
LEDGER_SIZE = 64


def enabled() -> bool:
    """Whether this process logs the timeline (read when a track or sender is set up)."""
    return os.environ.get(ENV) == "1"


def now_ms() -> float:
    """The timeline's clock: wall-clock milliseconds (the bench's probe reads the same clock)."""
    return time.time() * 1000.0


@dataclass(slots=True)
class FrameTimes:
    """One frame's stamps (wall-clock ms, 0 = not reached) and what was sent."""

    wake: float = 0.0
    grab: float = 0.0
    grabbed: float = 0.0
    compare: float = 0.0
    convert: float = 0.0
    encode_start: float = 0.0
    encode_end: float = 0.0
    sent: float = 0.0
    pts: int = 0
    bytes: int = 0
    width: int = 0
    height: int = 0

    def line(self) -> str:
        """The log line (see module)."""
        return (
            f"{MARK} pts={self.pts} wake={self.wake:.3f} grab={self.grab:.3f} compare={self.compare:.3f}"
            f" convert={self.convert:.3f} encode_start={self.encode_start:.3f}"
            f" encode_end={self.encode_end:.3f} sent={self.sent:.3f} bytes={self.bytes}"
            f" width={self.width} height={self.height} grabbed={self.grabbed:.3f}"
        )


class Ledger:
    """Frames between the track, the encoder thread and the sender, by pts (thread-safe)."""

    def __init__(self, size: int = LEDGER_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._frames: OrderedDict[int, FrameTimes] = OrderedDict()

    def file(self, times: FrameTimes) -> None:
        with self._lock:
            self._frames[times.pts] = times
            while len(self._frames) > self._size:
                self._frames.popitem(last=False)

    def get(self, pts: int) -> FrameTimes | None:
        with self._lock:
            return self._frames.get(pts)

    def take(self, pts: int) -> FrameTimes | None:
        with self._lock:
            return self._frames.pop(pts, None)


LEDGER = Ledger()


def timed_encoder(encoder: Any, ledger: Ledger = LEDGER) -> Any:
    """``encoder`` with its ``encode`` stamping ``encode_start``, ``encode_end`` and ``bytes`` of
    the frames the track filed (an instance attribute: the class and other encoders untouched)."""
    encode: Callable[..., tuple[list[bytes], int]] = encoder.encode

    def timed(frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        times = ledger.get(frame.pts) if frame.pts is not None else None
        if times is not None:
            times.encode_start = now_ms()
        payloads, timestamp = encode(frame, force_keyframe)
        if times is not None:
            times.encode_end = now_ms()
            times.bytes = sum(len(payload) for payload in payloads)
        return payloads, timestamp

    encoder.encode = timed
    return encoder


_installed = False


def install(ledger: Ledger = LEDGER) -> bool:
    """With the timeline on, wrap aiortc's ``RTCRtpSender._next_encoded_frame`` to stamp ``sent``
    and log each frame's line; returns whether it is on (idempotent)."""
    global _installed
    if not enabled():
        return False
    if _installed:
        return True
    import aiortc.rtcrtpsender as rtcrtpsender

    stock = rtcrtpsender.RTCRtpSender._next_encoded_frame

    async def _next_encoded_frame(sender: Any, codec: Any) -> Any:
        # aiortc comes back here right after the previous frame's last packet was sent
        pending: FrameTimes | None = getattr(sender, "_veo_timeline_pending", None)
        if pending is not None:
            pending.sent = now_ms()
            sender._veo_timeline_pending = None
            log.info("%s", pending.line())
        encoded = await stock(sender, codec)
        if encoded is not None:
            sender._veo_timeline_pending = ledger.take(encoded.timestamp)
        return encoded

    rtcrtpsender.RTCRtpSender._next_encoded_frame = _next_encoded_frame  # type: ignore[method-assign,assignment]
    _installed = True
    log.info("stream timeline on: one %s line per frame", MARK)
    return True
