"""The playout-delay header extension: offered, negotiated, and on every video RTP packet.

Two aiortc peers in one process (the agent's side offers, as in a session); the agent's RTP
packets are read before encryption, where aiortc hands them to its DTLS transport. The first
test holds the aiortc internals the extension relies on (``veo.agent.playout_delay``): when an
aiortc upgrade moves one of them, it says which.
"""

from __future__ import annotations

import asyncio
import fractions
import struct
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, codecs, rtcpeerconnection, rtp, sdp
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpSendParameters

from veo.agent import low_latency, playout_delay
from veo.tasks import spawn

pytestmark = pytest.mark.timeout(30)


def test_the_aiortc_internals_it_relies_on_are_there() -> None:
    shared = getattr(rtcpeerconnection, "HEADER_EXTENSIONS", None)
    assert shared is codecs.HEADER_EXTENSIONS, (
        "the offer's extension list is no longer codecs.HEADER_EXTENSIONS"
    )
    assert "video" in codecs.HEADER_EXTENSIONS
    for name in ("configure", "set"):
        assert callable(getattr(rtp.HeaderExtensionsMap, name, None)), f"HeaderExtensionsMap.{name} is gone"
    assert callable(getattr(RTCDtlsTransport, "_send_rtp", None)), "RTCDtlsTransport._send_rtp is gone (test)"
    assert rtp.HeaderExtensionsMap().set(rtp.HeaderExtensions()) == (0, b"")


def test_the_value_is_two_12_bit_delays_in_10_ms_units() -> None:
    assert playout_delay.value(0, 0) == b"\0\0\0"
    assert playout_delay.value(100, 200) == bytes([0x00, 0xA0, 0x14])
    assert playout_delay.value(40950, 40950) == b"\xff\xff\xff"
    with pytest.raises(ValueError):
        playout_delay.value(200, 100)
    assert playout_delay.element(9) == bytes([0x92, 0, 0, 0])  # id 9, length 3 (written as 2)


def test_it_goes_in_front_of_aiortcs_own_elements_keeping_the_alignment() -> None:
    playout_delay.install()
    map_ = rtp.HeaderExtensionsMap()
    params = RTCRtpSendParameters(
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
            RTCRtpHeaderExtensionParameters(id=12, uri=playout_delay.URI),
        ]
    )
    map_.configure(params)
    profile, data = map_.set(rtp.HeaderExtensions(mid="0"))
    assert profile == 0xBEDE and len(data) % 4 == 0
    assert rtp.unpack_header_extensions(profile, data) == [(12, b"\0\0\0"), (1, b"0")]
    assert map_.set(rtp.HeaderExtensions()) == (0xBEDE, bytes([0xC2, 0, 0, 0]))
    long_mid = "x" * 20  # aiortc's two-byte form
    profile, data = map_.set(rtp.HeaderExtensions(mid=long_mid))
    assert profile == 0x1000 and len(data) % 4 == 0
    assert rtp.unpack_header_extensions(profile, data) == [(12, b"\0\0\0"), (1, long_mid.encode())]
    assert rtp.HeaderExtensionsMap().set(rtp.HeaderExtensions(mid="0")) == (0, b"")  # not negotiated


@pytest.mark.parametrize("answered_id", [0, 15, 256, 300, -1])
def test_an_answer_with_an_impossible_id_leaves_it_off_instead_of_raising(answered_id: int) -> None:
    """The id comes from the console's answer: raising there would end aiortc's connect task
    and hang the session (security review F4)."""
    playout_delay.install()
    map_ = rtp.HeaderExtensionsMap()
    params = RTCRtpSendParameters(
        headerExtensions=[RTCRtpHeaderExtensionParameters(id=answered_id, uri=playout_delay.URI)]
    )
    map_.configure(params)
    assert map_.set(rtp.HeaderExtensions()) == (0, b"")


class Frames(MediaStreamTrack):  # type: ignore[misc]
    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.pts = 0

    async def recv(self) -> av.VideoFrame:
        await asyncio.sleep(0.02)
        frame = av.VideoFrame(320, 240, "yuv420p")
        frame.pts, frame.time_base = self.pts, fractions.Fraction(1, 90_000)
        self.pts += 1800
        return frame


def _extensions(packet: bytes) -> dict[int, bytes]:
    """The header extension elements of a plain RTP packet (RFC 3550 + 8285)."""
    csrcs = packet[0] & 0x0F
    if not packet[0] & 0x10:
        return {}
    at = 12 + 4 * csrcs
    profile, words = struct.unpack_from("!HH", packet, at)
    return dict(rtp.unpack_header_extensions(profile, packet[at + 4 : at + 4 + 4 * words]))


async def test_two_peers_negotiate_it_and_every_video_packet_carries_zero_delays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    low_latency.install()
    sent: list[bytes] = []
    stock = RTCDtlsTransport._send_rtp

    async def capture(self: RTCDtlsTransport, data: bytes) -> None:
        sent.append(data)
        await stock(self, data)

    monkeypatch.setattr(RTCDtlsTransport, "_send_rtp", capture)
    agent, console = RTCPeerConnection(), RTCPeerConnection()
    received = asyncio.get_running_loop().create_future()

    @console.on("track")  # type: ignore[untyped-decorator]
    def on_track(track: Any) -> None:
        async def first() -> None:
            received.set_result(await track.recv())

        spawn(first())

    try:
        agent.addTrack(Frames())
        await agent.setLocalDescription(await agent.createOffer())
        assert f"a=extmap:{playout_delay.EXTENSION_ID} {playout_delay.URI}" in agent.localDescription.sdp
        await console.setRemoteDescription(agent.localDescription)
        await console.setLocalDescription(await console.createAnswer())
        assert playout_delay.URI in console.localDescription.sdp  # the answer keeps it
        await agent.setRemoteDescription(console.localDescription)
        await asyncio.wait_for(received, 15)
    finally:
        await agent.close()
        await console.close()
    video = [p for p in sent if len(p) > 12 and p[0] >> 6 == 2 and not 192 <= p[1] <= 223]
    assert video, "no RTP packet was sent"
    ids = [_extensions(p) for p in video]
    assert all(found.get(playout_delay.EXTENSION_ID) == b"\0\0\0" for found in ids), ids[:3]
    assert all(1 in found and 3 in found for found in ids)  # aiortc's mid and abs-send-time kept


def test_firefox_keeps_it_too() -> None:
    """Firefox ESR 153's real answer to the agent's offer (VP8: no OpenH264 in that profile) keeps
    the extension as ``a=extmap:9/recvonly``; aiortc reads the direction and keeps the id."""
    playout_delay.install()
    answer = (Path(__file__).parent / "sdp" / "firefox-esr-153-keeps-playout-delay.sdp").read_text()
    (video,) = [m for m in sdp.SessionDescription.parse(answer).media if m.kind == "video"]
    common = rtcpeerconnection.find_common_header_extensions(
        codecs.HEADER_EXTENSIONS["video"], video.rtp.headerExtensions
    )
    assert (playout_delay.EXTENSION_ID, playout_delay.URI) in [(ext.id, ext.uri) for ext in common]
