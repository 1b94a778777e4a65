"""The RTP playout-delay header extension, min = max = 0: the browser shows each frame once decoded.

A browser's video receiver holds each frame for a *playout delay* before it renders it, which it
raises at once when a frame is decoded late and lowers by at most ~100 ms a second afterwards.
For a remote screen that was the typing p95 at 1080p (``docs/performance.md``): one late frame,
then a run of 6-13 keystrokes shown 130 ms falling to 25 ms late. ``jitterBufferTarget = 0`` on the
receiver did not change it. The sender's word does: WebRTC's extension
``http://www.webrtc.org/experiments/rtp-hdrext/playout-delay`` carries a minimum and maximum
delay (12 bits each, in 10-ms units) the receiver must keep to, and 0/0 makes Chromium render
each frame as soon as it is decoded (its "low-latency" rendering path, the one game streaming
uses). Chromium negotiates it for video by default (its answer keeps the offer's ``a=extmap``);
so does Firefox ESR 153 (``a=extmap:9/recvonly``).

aiortc (1.16) does not implement it; this module is the smallest extension that does, and
:func:`install` (called by :func:`veo.agent.low_latency.install`) sets it up:

- **the offer**: the extension is appended to ``aiortc.codecs.HEADER_EXTENSIONS["video"]``
  with id :data:`EXTENSION_ID` (unique across the BUNDLE: aiortc's own are 1-3); aiortc offers
  that list and, on the answer, keeps the entries the answer also has (``find_common_header_
  extensions``), with the answer's ids;
- **the id**: ``aiortc.rtp.HeaderExtensionsMap.configure`` is wrapped to note the negotiated id
  of this URI on the map (one map per sender, configured with its send parameters);
- **every packet**: ``HeaderExtensionsMap.set`` (what ``RtpPacket.serialize`` calls for the
  header extension bytes) is wrapped to put the 4-byte element (one-byte form: id and length,
  then 3 bytes of zero) in front of aiortc's own. WebRTC's sender sends it on every packet of a
  keyframe and until the receiver acknowledged it; on every packet it needs no state, and a
  frame whose first packet was lost still carries it.

What it relies on in aiortc (``tests/unit/agent/test_agent_playout_delay.py`` fails if one moves):
the module-level ``HEADER_EXTENSIONS`` dict shared by ``rtcpeerconnection``; the
``HeaderExtensionsMap`` class with ``configure(parameters)`` reading
``parameters.headerExtensions`` and ``set(values) -> (profile, bytes)``; the sender serialising
every RTP packet through its map's ``set``; and ``RTCRtpHeaderExtensionParameters(id, uri)``.
A replacement of aiortc's packetization that bypasses ``HeaderExtensionsMap.set`` must write the
element itself (:func:`element`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiortc import codecs, rtp
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters

URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
#: the id the agent offers (the answer's id is the one used); 1-14 keeps aiortc's one-byte form
EXTENSION_ID = 9
#: milliseconds, multiples of 10: render on decode
MIN_DELAY_MS = 0
MAX_DELAY_MS = 0
#: the map's attribute with the element for the negotiated id (see ``_elements``)
_ATTRIBUTE = "_veo_playout_delay"


def value(min_ms: int = MIN_DELAY_MS, max_ms: int = MAX_DELAY_MS) -> bytes:
    """The extension's 3 bytes: 12 bits of minimum then 12 of maximum delay, in 10-ms units."""
    low, high = min_ms // 10, max_ms // 10
    if not 0 <= low <= high <= 0xFFF:
        raise ValueError(f"playout delay out of range: {min_ms}-{max_ms} ms")
    return ((low << 12) | high).to_bytes(3, "big")


def element(extension_id: int, one_byte: bool = True) -> bytes:
    """The whole element for ``extension_id``: one-byte form (RFC 8285: id, length - 1) is 4 bytes,
    so it keeps the 32-bit alignment of what follows; two-byte form (id, length) is 5."""
    data = value()
    if one_byte:
        return bytes([(extension_id << 4) | (len(data) - 1)]) + data
    return bytes([extension_id, len(data)]) + data


def _elements(extension_id: int) -> tuple[bytes | None, bytes]:
    """The element in the one-byte form (``None`` for an id above 14) and in the two-byte form,
    made once per sender when its map is configured: nothing is computed per packet."""
    return (element(extension_id) if extension_id <= 14 else None), element(extension_id, one_byte=False)


def _with_element(map_: Any, profile: int, data: bytes) -> tuple[int, bytes]:
    elements: tuple[bytes | None, bytes] | None = getattr(map_, _ATTRIBUTE, None)
    if elements is None:
        return profile, data
    one, two = elements
    if one is not None and profile in (0xBEDE, 0):  # aiortc's usual form, or no element of its own
        return 0xBEDE, one + data
    if profile == 0xBEDE:  # cannot be: our id is offered <= 14, and the answer keeps it
        return profile, data
    joined = two + data
    return 0x1000, joined + b"\0" * (-len(joined) % 4)  # zero bytes are padding in both forms


_installed = False


def install() -> None:
    """Offer the extension for video and write it on every video RTP packet once negotiated
    (idempotent; see module)."""
    global _installed
    if _installed:
        return
    video = codecs.HEADER_EXTENSIONS["video"]
    if not any(ext.uri == URI for ext in video):
        taken = {ext.id for kind in codecs.HEADER_EXTENSIONS.values() for ext in kind}
        if EXTENSION_ID in taken:
            raise RuntimeError(f"RTP header extension id {EXTENSION_ID} is taken: {sorted(taken)}")
        video.append(RTCRtpHeaderExtensionParameters(id=EXTENSION_ID, uri=URI))

    stock_configure: Callable[[Any, Any], None] = rtp.HeaderExtensionsMap.configure
    stock_set: Callable[[Any, Any], tuple[int, bytes]] = rtp.HeaderExtensionsMap.set

    def configure(self: Any, parameters: Any) -> None:
        stock_configure(self, parameters)
        for ext in parameters.headerExtensions:
            # the id comes from the console's answer: one outside RTP's 1..255 (0 is padding,
            # 15 the one-byte form's reserved id) leaves the extension off instead of raising in
            # aiortc's connect task, which would hang the session rather than end it
            if ext.uri == URI and isinstance(ext.id, int) and 1 <= ext.id <= 255 and ext.id != 15:
                setattr(self, _ATTRIBUTE, _elements(ext.id))

    def set_(self: Any, values: Any) -> tuple[int, bytes]:
        profile, data = stock_set(self, values)
        return _with_element(self, profile, data)

    rtp.HeaderExtensionsMap.configure = configure  # type: ignore[method-assign]
    rtp.HeaderExtensionsMap.set = set_  # type: ignore[method-assign]
    _installed = True
