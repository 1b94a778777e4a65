"""What the track tells the encoder about a frame besides its pixels (carried by ``frame.opaque``).

aiortc hands the track's frame to the encoder as it is, and ``opaque`` is the one field of a
PyAV frame that holds any Python object through that hand-over (``metadata`` is a copy). Two
things travel in it:

- the track's :class:`~veo.agent.congestion.SendBudget`, to which the encoder reports each
  frame's size;
- whether the picture was **scaled** down from the screen (the console shows it smaller). The
  H.264 encoder opens x264 differently for such a stream: a whole-pixel scroll of the screen is a
  shift by a fraction of a pixel in the scaled picture, which ``ultrafast``'s whole-pixel motion
  search cannot follow, and swscale's scaled conversion sites chroma at the centre of each 2×2
  block where the unscaled one takes the lower row (:mod:`veo.agent.low_latency`).
"""

from __future__ import annotations

from dataclasses import dataclass

import av

from veo.agent.congestion import SendBudget


@dataclass(frozen=True, slots=True)
class FrameNote:
    """``budget``: where the encoder reports the frame's size (``None``: nowhere); ``scaled``:
    the picture is the screen scaled down, not its pixels one to one."""

    budget: SendBudget | None = None
    scaled: bool = False


#: what a frame without a note (a test's, another track's) is taken as: the screen's own pixels
PLAIN = FrameNote()


def note_of(frame: av.VideoFrame) -> FrameNote:
    """The note the track put on ``frame``, :data:`PLAIN` when there is none."""
    note = frame.opaque
    return note if isinstance(note, FrameNote) else PLAIN
