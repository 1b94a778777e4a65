"""Which codec the agent offers first and how fast it may send: the agent's stream settings.

H.264 (libx264 ``ultrafast``, see :mod:`veo.agent.low_latency`) is the default: on the 2-core
reference machine it encodes a 1080p screen frame in 2-4 ms where aiortc's VP8 takes 10-12 ms
(``field-notes.md``), and browsers decode it in hardware. Both are offered, so a console without
H.264 still negotiates VP8. ``veo agent --codec`` and ``--max-fps`` (hidden options, for
``veo bench stream``) override the defaults for the whole process. Checking them needs no aiortc:
``veo agent`` imports this module before its first window, aiortc only when a session starts.

A console that can play none of the offered codecs (Firefox without its OpenH264 plug-in, with
``--codec h264``) rejects the video line of the offer: :func:`video_refused` spots that in the
answer, so the session ends with :func:`unsupported_reason` (a sentence on both sides) instead of
aiortc's "ICE username fragment or password is missing".
"""

from __future__ import annotations

from dataclasses import dataclass

from veo.protocol.signaling import CODEC_UNSUPPORTED

CODECS = ("auto", "h264", "vp8")
_MIME = {"h264": "video/H264", "vp8": "video/VP8"}


@dataclass
class StreamSettings:
    """``codec``: ``auto`` (H.264 first, VP8 second), ``h264`` or ``vp8`` (offered alone);
    ``max_fps``: a fixed rate cap, ``None`` for the default (``pacing.py``: by what frames cost)."""

    codec: str = "auto"
    max_fps: float | None = None


SETTINGS = StreamSettings()


def configure(codec: str = "auto", max_fps: float | None = None) -> None:
    """Set the process-wide stream settings (called once by ``veo agent``)."""
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}: choose one of {', '.join(CODECS)}")
    if max_fps is not None and not 1 <= max_fps <= 120:
        raise ValueError("max fps must be between 1 and 120")
    SETTINGS.codec = codec
    SETTINGS.max_fps = max_fps


def codec_order(codec: str | None = None) -> tuple[str, ...]:
    """The video MIME types to offer, best first."""
    chosen = SETTINGS.codec if codec is None else codec
    if chosen == "auto":
        return ("video/H264", "video/VP8")
    return (_MIME[chosen],)


def video_refused(answer_sdp: str, offered: tuple[str, ...] | None = None) -> bool:
    """Whether the answer rejected the video line (port 0) or kept none of the ``offered`` codecs.

    A malformed answer is not judged here: ``setRemoteDescription`` reports it as it is.
    """
    from aiortc.sdp import SessionDescription  # aiortc loads with a session, not before the code window

    try:
        description = SessionDescription.parse(answer_sdp)
    except Exception:
        return False
    wanted = {mime.lower() for mime in (offered or codec_order())}
    for media in description.media:
        if media.kind != "video":
            continue
        accepted = {codec.mimeType.lower() for codec in media.rtp.codecs}
        if media.port == 0 or not accepted & wanted:
            return True
    return False


def unsupported_reason(codec: str | None = None) -> str:
    """The ``hangup`` reason when the console refused our video: which codec ``--codec`` forced, if any."""
    chosen = SETTINGS.codec if codec is None else codec
    return CODEC_UNSUPPORTED if chosen == "auto" else f"{CODEC_UNSUPPORTED}_{chosen}"
