"""Small decisions of the session: ICE servers, codec order, texts shown to the user."""

from __future__ import annotations

import pytest
from aiortc import RTCConfiguration, RTCIceTransportPolicy, RTCPeerConnection, RTCRtpSender

from veo.agent.session import CODEC_ORDER, ice_configuration, join_error_text, prefer_codecs
from veo.protocol.signaling import Error, IceServer


def test_no_ice_server_means_none_at_all() -> None:
    # aiortc falls back to Google's public STUN when iceServers is None: veo always passes a list
    assert ice_configuration([]).iceServers == []


def test_ice_servers_from_joined_are_passed_through() -> None:
    config = ice_configuration([IceServer(urls=["turn:turn.example:3478"], username="u", credential="p")])
    assert len(config.iceServers) == 1
    server = config.iceServers[0]
    assert (server.urls, server.username, server.credential) == (["turn:turn.example:3478"], "u", "p")


async def test_h264_is_offered_first_then_vp8() -> None:
    pc = RTCPeerConnection(ice_configuration([]))
    try:
        transceiver = pc.addTransceiver("video", direction="sendonly")
        prefer_codecs(transceiver)
        mimes = [c.mimeType for c in transceiver._preferred_codecs]
        assert mimes[: mimes.count("video/H264") + 1] == ["video/H264"] * mimes.count("video/H264") + [
            "video/VP8"
        ]
        assert set(mimes) <= {*CODEC_ORDER, "video/rtx"}
        assert {c.mimeType for c in RTCRtpSender.getCapabilities("video").codecs} >= set(mimes)
    finally:
        await pc.close()


def test_join_error_texts_give_the_servers_specific_reason() -> None:
    def said(code: str, language: str = "en", retry_after: int | None = None) -> str:
        return join_error_text(language, Error(code=code, message="x", fatal=True, retry_after=retry_after))

    assert "already been used" in said("code_used")
    assert "expired" in said("code_expired")
    assert "does not exist" in said("code_unknown")
    assert said("rate_limited", retry_after=300) == (
        "Too many wrong codes were tried. Please wait 5 minutes and try again."
    )
    assert "ya se usó" in said("code_used", "es")
    assert (
        said("rate_limited", "es", 61)
        == "Se probaron demasiados códigos incorrectos. Espere 2 minutos y vuelva a intentarlo."
    )
    assert said("too_many_joins", retry_after=8) == (
        "Too many connections from your network are joining at the same time. "
        "Please try again in a few seconds."
    )
    assert said("too_many_joins", "es", 8) == (
        "Demasiadas conexiones de su red están intentando entrar al mismo tiempo. "
        "Vuelva a intentarlo en unos segundos."
    )
    assert "server_error" not in said("server_error")  # never a code in a sentence
    assert join_error_text("es", None)


async def test_relay_policy_reaches_aiortc_as_its_enum() -> None:
    """VEO_ICE_TRANSPORT_POLICY=relay arrives as "relay" in `joined`; aiortc needs the enum."""
    config = ice_configuration([], "relay")
    assert config.iceTransportPolicy is RTCIceTransportPolicy.RELAY
    assert ice_configuration([]).iceTransportPolicy is RTCIceTransportPolicy.ALL
    # relay only, with no TURN server: gathering finds nothing, and says so by an offer without
    # candidates (the enum works where the string below fails)
    pc = RTCPeerConnection(config)
    try:
        pc.createDataChannel("veo")
        await pc.setLocalDescription(await pc.createOffer())
        assert "a=candidate" not in pc.localDescription.sdp
    finally:
        await pc.close()


async def test_the_string_relay_is_the_trap_the_enum_avoids() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceTransportPolicy="relay"))  # type: ignore[arg-type]
    try:
        with pytest.raises(KeyError):
            pc.createDataChannel("veo")
            await pc.setLocalDescription(await pc.createOffer())
    finally:
        await pc.close()
