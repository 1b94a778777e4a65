"""The screen as a WebRTC video track: capture on change, convert only what changed, own pacing.

The pieces, each in its own module (figures in ``docs/performance.md``):

- **when to capture** — a capture that is told of each new picture (PipeWire, see
  :meth:`~veo.agent.capture.base.ScreenCapture.change_watcher`) wakes the track when one arrives;
  otherwise :mod:`veo.agent.damage` (X DAMAGE events on the event loop) wakes it the moment
  something is drawn; without either the track polls at its rate cap;
- **how often** — :mod:`veo.agent.pacing` caps the rate by what the last frame cost (60 fps for
  a cheap one, down to 30 for a costly one) and never bursts after a stall; its
  :class:`~veo.agent.pacing.SendBudget` holds the next capture back while the frames already
  sent exceed the congestion controller's target (the encoder reports each frame's size to it):
  a slow link gets fewer frames, each as sharp; while the screen changes continuously, a slot
  waits for the program's next drawing when it is due soon (:mod:`veo.agent.cadence`), so that
  each frame shows a drawing ~1 ms old instead of up to a drawing period;
- **what changed** — :class:`veo.agent.damage.TileMap` compares each grab with the previous one in
  64-pixel tiles; no changed tile means no frame at all (a damage report for identical pixels
  costs a grab and a compare, nothing more);
- **conversion** — :class:`veo.agent.convert.YuvCanvas` re-converts only the changed rectangles
  into a persistent yuv420p frame (typing costs a fraction of a whole-frame conversion), scaled
  down to the console's view when the console showed a smaller one (:mod:`veo.agent.scaling`;
  the console's coordinates stay the captured screen's);
- **refinement and keep-alive** — after the screen stops changing, the unchanged frame is sent
  again :data:`REFINE_SECONDS` later, then at doubling intervals up to :data:`KEEPALIVE_SECONDS`:
  the first repeats let the constant-quality encoder sharpen what a busy change left coarse,
  the later ones are a few dozen bytes that keep the browser from asking for keyframes. While a
  repeat still comes out larger than :data:`SHARPENED_BYTES` the encoder is still sharpening
  (each frame is held to the peak cap, so a screen full of text at 1080p needs ~15 frames of
  ~40 KB to reach the encoder's quality): the next repeat follows :data:`SHARPEN_SECONDS` later
  instead of twice as late. On doubling intervals alone that took 4-5 s, the faint block ghosts
  of issue 11 (``docs/performance.md``). But no faster than the link carries them: the next
  one waits until the last one's bits took their time at the receiver's estimate, counted as at
  least :data:`SHARPEN_MIN_BITRATE` (an estimate is low after a quiet spell, even on a LAN). At
  full speed, repeats 0.1 s apart (~3 Mbit/s) on the 2 Mbit/s *poor* link filled its queue, the
  estimate collapsed, and the whole session then crawled at the budget's floor (scrolling 0.6
  frames a second instead of 2, dragging 1.2 instead of 22). A frame is
  also sent at once when the browser asks for a keyframe (:meth:`ScreenTrack.keyframe_requested`):
  a lost picture is repaired without waiting for the screen to change;
- grabbing and conversion run in ONE dedicated capture thread that owns the capture backend
  (mss wants one instance per thread); the event loop only awaits the result;
- nothing is captured at all until the user pressed Allow: :meth:`ScreenTrack.recv` waits on the
  consent gate, so ICE and DTLS may connect early without a single pixel leaving.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import functools
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from veo.agent.cadence import DrawCadence
from veo.agent.capture.base import ChangeWatcher, Region, ScreenCapture, Size
from veo.agent.convert import YuvCanvas
from veo.agent.damage import TileMap, open_damage_watcher
from veo.agent.encoder import SETTINGS
from veo.agent.frame_note import FrameNote
from veo.agent.pacing import Pacer, SendBudget, auto_max_fps, polling_fps
from veo.agent.scaling import ViewSizer
from veo.agent.scroll import ScrollFinder
from veo.agent.timeline import LEDGER, FrameTimes, now_ms
from veo.agent.timeline import enabled as timeline_enabled
from veo.protocol.datachannel import View

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
#: Chrome asks for a keyframe when no frame arrived for 3 s while packets did within 5 s
#: (``VideoReceiveStream2``'s decodable-frame timeout): a 5 s keep-alive made an idle screen cost
#: a ~10 KB keyframe every 3 s (26 kbit/s at 1080p). A 22-byte frame every 2 s never trips it.
KEEPALIVE_SECONDS = 2.0
#: the first repeat of a screen that stopped changing (then 2x, 4x... up to the keep-alive)
REFINE_SECONDS = 0.25
#: a repeat larger than this still sharpened the picture (a converged repeat is 20-600 bytes)...
SHARPENED_BYTES = 1_500
#: ...so the next one follows once the link's estimate has carried it, but never sooner than this:
#: at most 10 repeats a second, each under the encoder's peak cap (~50 KB), and only while they
#: still improve the picture
SHARPEN_SECONDS = 0.1
#: at most this many early repeats after a change (3 s): an encoder whose repeats never shrink
#: (none seen) must not send 10 frames a second for ever
SHARPEN_LIMIT = 30
#: the link speed the early repeats may assume at least (bit/s): below the *poor* link's 2 Mbit/s,
#: so they never queue on it; 40 KB repeats then come every 0.2 s at most
SHARPEN_MIN_BITRATE = 1_500_000
#: the watcher is armed again after a drawing at most this often (see ``_rearm_after_drawing``)
REARM_SECONDS = 0.002

DamageFactory = Callable[[Callable[[], None]], ChangeWatcher | None]


class FrameSource:
    """The capture thread's half: grab, find the changed tiles, patch the yuv canvas.

    :meth:`next` returns ``None`` when nothing changed and no repeat is due (:attr:`repeat_at`,
    read by the track from the event loop to know how long it may sleep); otherwise
    the canvas frame (the same object each time, see :mod:`veo.agent.convert`). yuv420p needs
    even dimensions, so an odd last row/column is cropped: :attr:`size` is the coordinate space
    announced to the console; :attr:`encoded`, the size of the frames sent, is smaller when the
    console shows the screen smaller (:meth:`set_view`).
    """

    def __init__(
        self,
        capture: ScreenCapture,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
        refine_seconds: float = REFINE_SECONDS,
        last_frame_bytes: Callable[[], int] = lambda: 0,
        link_bitrate: Callable[[], float | None] = lambda: None,
    ) -> None:
        """``last_frame_bytes``: the encoded size of the last frame sent (the encoder reports it to
        the track's send budget), which says whether the repeats still sharpen the picture;
        ``link_bitrate``: the receiver's estimate of the link (bit/s, ``None`` before the first),
        which says how soon the next may follow (no estimate: no early repeats)."""
        self._capture = capture
        self._keepalive = keepalive_seconds
        self._refine = min(refine_seconds, keepalive_seconds)
        self._last_frame_bytes = last_frame_bytes
        self._link_bitrate = link_bitrate
        self._view: View | None = None
        self._setup(capture.size())
        self.frames = 0
        self.keepalives = 0
        #: repeats sent early because the one before still sharpened the picture
        self.sharpening = 0
        self.unchanged = 0
        self.pixels_converted = 0

    def _setup(self, source: Size) -> None:
        self.source = source
        self.size = Size(source.width - source.width % 2, source.height - source.height % 2)
        if self.size.width <= 0 or self.size.height <= 0:
            raise ValueError(f"the screen is too small to stream: {source.width}x{source.height}")
        self._tiles = TileMap(source)
        #: the rows a scroll moved between two grabs (the canvas moves its picture with them)
        self._scrolls = ScrollFinder()
        self._sizer = ViewSizer(self.size, self._view)
        self._canvas = YuvCanvas(self._sizer.size, self.size)
        self._quiet_interval = self._refine
        self._sharpened = 0  # early repeats since the last change
        #: monotonic time of the next repeat of an unchanged screen
        self.repeat_at = -math.inf
        self._last_raw: object = None

    def _sharpen_wait(self) -> float | None:
        """How soon the next repeat may follow while the last one still sharpened the picture:
        once the link's estimate carried it; ``None`` when it is sharp, or nothing is known."""
        size, bitrate = self._last_frame_bytes(), self._link_bitrate()
        if size <= SHARPENED_BYTES or not bitrate or self._sharpened >= SHARPEN_LIMIT:
            return None
        return max(SHARPEN_SECONDS, size * 8 / bitrate)

    @property
    def encoded(self) -> Size:
        """The size of the frames sent (the canvas's)."""
        return self._canvas.size

    @property
    def scaled(self) -> bool:
        """Whether the frames sent are the screen scaled down (the encoder opens differently)."""
        return self._canvas.scaled

    def set_region(self, region: Region | None) -> Size:
        """Show ``region`` from the next frame on: new buffers and tile map, first frame sent whole."""
        self._setup(self._capture.set_region(region))
        return self.size

    def set_view(self, view: View, now: float) -> None:
        """The console shows the screen at ``view``: the encoded size follows at the next frame,
        or when the rate limit lets it (:class:`~veo.agent.scaling.ViewSizer`)."""
        self._view = view
        self._sizer.want(view, now)
        pending = self._sizer.pending_at
        if pending is not None:
            self.repeat_at = min(self.repeat_at, pending)

    def _resize(self, now: float) -> bool:
        """Apply a held size change that is due: a new canvas, every tile converted again."""
        size = self._sizer.due(now)
        if size is None:
            return False
        self._canvas = YuvCanvas(size, self.size)
        self._tiles.reset()
        log.info(
            "stream encodes width=%d height=%d of screen width=%d height=%d",
            size.width,
            size.height,
            self.size.width,
            self.size.height,
        )
        return True

    def next(self, now: float, force: bool = False, times: FrameTimes | None = None) -> av.VideoFrame | None:
        """The frame to send at ``now`` (monotonic seconds), or ``None`` when there is none;
        ``times``, when given, gets the grab, compare and conversion stamps (:mod:`~veo.agent.timeline`)."""
        if times is not None:
            times.grab = now_ms()
        self._resize(now)
        raw = self._capture.grab()
        if times is not None:
            times.grabbed = now_ms()
        # a new buffer object per grab (mss) is ours to keep: the tile map holds it, no copy
        # ...and so is a buffer the capture leaves alone until the grab after next (``grab_kept``)
        owned = self._capture.grab_kept or isinstance(raw, bytes)
        owned = owned or (isinstance(raw, bytearray) and raw is not self._last_raw)
        self._last_raw = raw if owned else None
        pixels = self._tiles.view(raw)
        # the last grab, left as it is by the diff of an owned one: what a scroll moved
        previous = self._tiles.previous if owned else None
        tiles = self._tiles.diff(pixels, owned, self._capture.changed_area())
        if times is not None:
            times.compare = now_ms()
        if tiles.any():
            scroll = None if previous is None else functools.partial(self._scrolls.find, previous, pixels)
            self.pixels_converted += self._canvas.update(pixels, self._tiles.rects(tiles), scroll)
            self._quiet_interval = interval = self._refine
            self._sharpened = 0
        elif force or now >= self.repeat_at:
            # the screen rests: a picture converted fast (by libyuv, see convert) is made sharp
            self.pixels_converted += self._canvas.settle(pixels)
            self.keepalives += 1
            doubled = min(self._quiet_interval * 2, self._keepalive)
            early = self._sharpen_wait()
            if early is not None and early < doubled:  # still sharpening: again soon
                interval = early
                self._sharpened += 1
                self.sharpening += 1
            else:  # sharp: ever less often (the doubling resumes where it was)
                self._quiet_interval = interval = doubled
        else:
            self.unchanged += 1
            return None
        self.repeat_at = now + interval
        pending = self._sizer.pending_at
        if pending is not None:  # a size change held by the rate limit: wake up for it
            self.repeat_at = min(self.repeat_at, pending)
        self.frames += 1
        if times is not None:
            times.convert = now_ms()
        return self._canvas.frame


class ScreenTrack(MediaStreamTrack):  # type: ignore[misc]
    """A video track fed from a :class:`ScreenCapture` that lives in its own thread."""

    kind = "video"

    def __init__(
        self,
        capture_factory: Callable[[], ScreenCapture],
        fps: float | None = None,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
        damage_factory: DamageFactory | None = open_damage_watcher,
    ) -> None:
        """``fps`` fixes the rate cap (``None``: by what frames cost, see :mod:`~veo.agent.pacing`);
        ``damage_factory`` opens the change listener (``None``: poll at the rate cap)."""
        super().__init__()
        self._factory = capture_factory
        self._fixed_fps = fps if fps is not None else SETTINGS.max_fps
        self._keepalive = keepalive_seconds
        self._damage_factory = damage_factory
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="veo-capture")
        # touched only in the capture thread (the loop only reads ``self._source.repeat_at``):
        self._capture: ScreenCapture | None = None
        self._source: FrameSource | None = None
        # touched only in the event loop:
        self._gate = asyncio.Event()
        self._changed = asyncio.Event()
        self._watcher: ChangeWatcher | None = None
        self._watching = False
        #: when the screen is drawn: a grab while it changes continuously waits for the next draw
        self._cadence = DrawCadence()
        #: slots that waited for the next drawing, and how many of those saw it come
        self.draw_waits = 0
        self.draws_caught = 0
        #: when the watcher was last armed again after a drawing, and whether a later re-arm waits
        self._rearmed_at = -math.inf
        self._rearm_due: asyncio.TimerHandle | None = None
        self._pacer = Pacer(self._fixed_fps or 30.0, adaptive=not self._fixed_fps)
        self._polling = False  # no change listener: poll at a fixed rate (see ``_pace_for``)
        self._paced = Size(0, 0)  # the frame size the rate cap was set for
        #: filled by the encoder (see ``low_latency``) through the frames this track sends
        self.budget = SendBudget()
        self._allowed = False
        self._keyframe_wanted = False
        self._start: float | None = None
        #: the per-frame stage timeline (``VEO_STREAM_TIMELINE=1``): when the change was noticed
        self._timeline = timeline_enabled()
        self._woke: float | None = None
        #: what the last frame cost (the pacer's adaptive cap): its grab to conversion, and when
        #: it left the track (aiortc comes back for the next one once it encoded and sent it)
        self._capture_cost = 0.0
        self._returned_at: float | None = None
        #: the process's CPU time when the last frame's grab started (its CPU cost for the pacer)
        self._cpu_at = 0.0
        #: whether the last frame grabbed was scaled (set in the capture thread with the frame)
        self._frame_scaled = False
        self.frames_sent = 0
        #: called (on the loop) when capturing fails for good, so the session can end and say why
        self.on_failure: Callable[[str], None] | None = None

    # ------------------------------------------------------------ capture thread

    def _open(self) -> FrameSource:
        if self._source is None:
            self._capture = self._factory()
            self._source = FrameSource(
                self._capture,
                self._keepalive,
                last_frame_bytes=self._last_frame_bytes,
                link_bitrate=self._link_bitrate,
            )
        return self._source

    def _last_frame_bytes(self) -> int:
        return self.budget.last_bytes

    def _link_bitrate(self) -> float | None:
        """The link speed the early repeats are paced to: the receiver's estimate, at least
        :data:`SHARPEN_MIN_BITRATE` (see module)."""
        return max(self.budget.estimate or 0.0, SHARPEN_MIN_BITRATE)

    def _grab(
        self, force: bool, now: float | None = None, times: FrameTimes | None = None
    ) -> av.VideoFrame | None:
        self._cpu_at = time.process_time()
        start = time.monotonic()
        source = self._open()
        frame = source.next(start if now is None else now, force, times)
        self._frame_scaled = source.scaled
        self._capture_cost = time.monotonic() - start
        return frame

    def _capture_watcher(self) -> ChangeWatcher | None:
        self._open()
        return self._capture.change_watcher(self._drawn) if self._capture is not None else None

    def _close_capture(self) -> None:
        if self._source is not None:
            source = self._source
            log.info(
                "stream stats frames=%d keepalives=%d sharpening=%d unchanged=%d megapixels_converted=%.1f"
                " draw_waits=%d draws_caught=%d",
                source.frames,
                source.keepalives,
                source.sharpening,
                source.unchanged,
                source.pixels_converted / 1e6,
                self.draw_waits,
                self.draws_caught,
            )
        if self._capture is not None:
            self._capture.close()
            self._capture = None

    def _apply_region(self, region: Region | None) -> Size:
        """Switch the capture to ``region``; new buffers and tile map for the new size.

        Runs in the capture thread between two grabs, so the very next frame has the new size;
        aiortc's H.264 and VP8 encoders re-open their context (with a keyframe) on a size change.
        """
        return self._open().set_region(region)

    # ------------------------------------------------------------ event loop

    async def size(self) -> Size:
        """The size of the frames this track sends (the console's coordinate space)."""
        loop = asyncio.get_running_loop()
        source = await loop.run_in_executor(self._executor, self._open)
        self._pace_for(source.encoded)
        return source.size

    async def set_region(self, region: Region | None) -> Size:
        """Show only ``region`` of the desktop (one monitor) or, with ``None``, all of it.

        Takes effect at the next frame (which is sent at once, whole); returns the new frame
        size, the console's new coordinate space.
        """
        loop = asyncio.get_running_loop()
        size = await loop.run_in_executor(self._executor, self._apply_region, region)
        if self._source is not None:
            self._pace_for(self._source.encoded)
        self._changed.set()
        return size

    async def set_view(self, view: View) -> None:
        """The console shows the screen at ``view`` (device pixels, or ``zoom: full``): frames are
        encoded at the size that fits it from the next one (rate-limited, see
        :mod:`veo.agent.scaling`); coordinates stay the screen's."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._apply_view, view)
        self._changed.set()

    def _apply_view(self, view: View) -> None:
        self._open().set_view(view, time.monotonic())

    def _pace_for(self, size: Size) -> None:
        """The rate cap for frames of ``size`` (the ENCODED size: a 4K screen sent at 1080p is paced
        as 1080p)."""
        self._paced = size
        if self._fixed_fps:
            self._pacer.set_max_fps(self._fixed_fps, adaptive=False)
        elif self._polling:  # every poll costs a grab and a compare, changed or not: not at 60 at 1080p
            self._pacer.set_max_fps(polling_fps(size), adaptive=False)
        else:
            self._pacer.set_max_fps(auto_max_fps(size), adaptive=True)

    def _notice(self) -> None:
        """Something was drawn (or a frame is wanted): wake ``recv``; the first notice since the
        last capture is the frame's ``wake`` in the timeline."""
        if self._timeline and self._woke is None:
            self._woke = now_ms()
        self._changed.set()

    def _drawn(self) -> None:
        """The watcher saw a drawing: its time for the cadence, the watcher armed again (so that
        each drawing is seen, not only the first after a grab: the capture takes the damage from
        its own DAMAGE object), and ``recv`` woken."""
        now = time.monotonic()
        self._cadence.drawn(now)
        self._rearm_after_drawing(now)
        self._notice()

    def _rearm_after_drawing(self, now: float) -> None:
        """Arm the watcher again, at most every :data:`REARM_SECONDS`: a terminal printing fast
        draws thousands of times a second, and one event and one request each would cost the
        agent a core (drawings closer than that are one for the cadence anyway)."""
        if self._rearm_due is not None or self._watcher is None:
            return
        wait = self._rearmed_at + REARM_SECONDS - now
        if wait > 0:
            self._rearm_due = asyncio.get_running_loop().call_later(wait, self._rearm_now)
        else:
            self._rearm_now()

    def _rearm_now(self) -> None:
        self._rearm_due = None
        self._rearmed_at = time.monotonic()
        if self._watcher is not None:
            self._watcher.rearm()

    def keyframe_requested(self) -> None:
        """The browser lost the picture (PLI/FIR, see ``low_latency``): send a frame now, even unchanged."""
        self._keyframe_wanted = True
        self._notice()

    def allow(self) -> None:
        """The user pressed Allow: frames may flow (the first one at once)."""
        self._allowed = True
        self._changed.set()
        self._gate.set()

    def stop(self) -> None:
        """Stop for good: wake a waiting ``recv``, close the capture in its own thread."""
        if self.readyState == "ended":
            return
        super().stop()
        self._gate.set()
        self._changed.set()
        if self._watcher is not None:
            self._watcher.close()
        if self._rearm_due is not None:
            self._rearm_due.cancel()
        with contextlib.suppress(RuntimeError):
            self._executor.submit(self._close_capture)
        self._executor.shutdown(wait=False)

    async def _watch(self) -> None:
        """Start listening for screen changes (once, on the loop that runs ``recv``): the
        capture's own watcher if it has one, else X DAMAGE."""
        if self._watching:
            return
        self._watching = True
        loop = asyncio.get_running_loop()
        with contextlib.suppress(RuntimeError, ValueError):  # reported by the grab in ``recv``
            self._watcher = await loop.run_in_executor(self._executor, self._capture_watcher)
        own = self._watcher is not None
        if not own and self._damage_factory is not None:
            self._watcher = self._damage_factory(self._drawn)
        if self._watcher is not None and self.readyState != "live":  # stop() came meanwhile
            self._watcher.close()
        elif self._watcher is not None:
            self._watcher.start(loop)
            log.info("stream captures %s", "on new pictures" if own else "on X damage events")
        else:
            self._polling = True
            if self._source is not None:
                self._pace_for(self._source.size)
            log.info("stream polls the screen at %.0f fps", 1 / self._pacer.interval)

    async def _wait_for_change(self) -> None:
        """Until the screen changed, the keep-alive is due, or (polling) the next frame slot."""
        watcher = self._watcher
        if watcher is not None and watcher.alive:
            repeat_at = self._source.repeat_at if self._source is not None else -math.inf
            timeout = repeat_at - time.monotonic()
            if not self._changed.is_set() and timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)
            if self._timeline and self._woke is None:  # the repeat timer
                self._woke = now_ms()
            self._changed.clear()
            delay = max(self._pacer.delay(), self.budget.delay())
            if delay > 0:
                await asyncio.sleep(delay)
                await self._await_next_draw()
            watcher.rearm()  # drawing from now on wakes the next round
        else:
            self._changed.clear()
            delay = max(self._pacer.delay(), self.budget.delay())
            if delay > 0:
                await asyncio.sleep(delay)
            if self._timeline and self._woke is None:  # the polling slot
                self._woke = now_ms()
        self._pacer.captured()

    async def _await_next_draw(self) -> None:
        """The slot came while the screen changes continuously: wait for the next drawing when
        the cadence expects one soon, so that the grab shows it fresh (:mod:`~veo.agent.cadence`).
        Not while the send budget holds frames back (a full link: its own timing)."""
        wait = self._cadence.wait(time.monotonic())
        if wait <= 0 or self.budget.delay() > 0:
            return
        self._changed.clear()
        self.draw_waits += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), wait)
            self.draws_caught += 1
        self._changed.clear()

    async def recv(self) -> av.VideoFrame:
        if self._returned_at is not None:  # aiortc encoded and sent the last frame meanwhile
            self._pacer.spent(
                self._capture_cost + time.monotonic() - self._returned_at, time.process_time() - self._cpu_at
            )
            self._returned_at = None
        await self._gate.wait()
        loop = asyncio.get_running_loop()
        if not self._watching:  # first call: the rate cap for this picture size, the listener
            with contextlib.suppress(RuntimeError, ValueError):  # reported by the grab below
                await self.size()
        await self._watch()
        while True:
            if self.readyState != "live" or not self._allowed:
                raise MediaStreamError
            await self._wait_for_change()
            if self.readyState != "live":
                raise MediaStreamError
            force, self._keyframe_wanted = self._keyframe_wanted, False
            times = None
            if self._timeline:
                times = FrameTimes(wake=self._woke if self._woke is not None else now_ms())
                self._woke = None
            try:
                frame = await loop.run_in_executor(self._executor, self._grab, force, None, times)
            except (RuntimeError, ValueError) as exc:  # executor shut down by stop(), capture failed
                if self.readyState == "live" and self.on_failure is not None:
                    log.error("screen capture failed: %s", exc)
                    self.on_failure(str(exc))
                raise MediaStreamError from None
            if self.readyState != "live":
                raise MediaStreamError
            if frame is None:
                continue
            now = time.monotonic()
            if self._start is None:
                self._start = now
            frame.pts = int((now - self._start) * VIDEO_CLOCK)
            frame.time_base = TIME_BASE
            frame.opaque = FrameNote(self.budget, self._frame_scaled)
            self.frames_sent += 1
            if (frame.width, frame.height) != (self._paced.width, self._paced.height):
                self._pace_for(Size(frame.width, frame.height))  # a view's size change was applied
            if times is not None:
                times.pts, times.width, times.height = frame.pts, frame.width, frame.height
                LEDGER.file(times)
            self._returned_at = time.monotonic()
            return frame
