"""libx264 at preset ``ultrafast`` for aiortc's H.264 encoder (it already sets ``zerolatency``).

aiortc creates its libx264 context without a preset, so x264 runs at ``medium``: 2-3x the CPU of
``ultrafast`` for screen content at equal quality (``field-notes.md``, note 5). aiortc offers no
option for it, so this subclass adds the preset to the codec context while it is still closed
(PyAV applies options when the first frame opens the context), and :func:`install` makes aiortc's
sender create this encoder for H.264. VP8 and everything else are untouched.
"""

from __future__ import annotations

from typing import Any

import aiortc.rtcrtpsender as rtcrtpsender
from aiortc.codecs import get_encoder as aiortc_get_encoder
from aiortc.codecs.h264 import H264Encoder

PRESET = "ultrafast"


class LowLatencyH264Encoder(H264Encoder):  # type: ignore[misc]
    """aiortc's encoder, whose libx264 context always opens with ``preset=ultrafast``."""

    @property
    def codec(self) -> Any:
        context = self._veo_codec
        if context is not None and not context.is_open and context.options.get("preset") != PRESET:
            context.options = {**context.options, "preset": PRESET}
        return context

    @codec.setter
    def codec(self, context: Any) -> None:
        self._veo_codec = context


def _get_encoder(codec: Any) -> Any:
    if str(codec.mimeType).lower() == "video/h264":
        return LowLatencyH264Encoder()
    return aiortc_get_encoder(codec)


def install() -> None:
    """Make every aiortc sender in this process use :class:`LowLatencyH264Encoder` (idempotent)."""
    rtcrtpsender.get_encoder = _get_encoder  # type: ignore[attr-defined]  # the hook aiortc lacks
