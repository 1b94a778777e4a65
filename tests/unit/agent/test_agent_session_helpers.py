"""Small decisions of the session: ICE servers, codec order, texts shown to the user."""

from __future__ import annotations

from aiortc import RTCPeerConnection, RTCRtpSender

from veo.agent.session import CODEC_ORDER, ice_configuration, join_error_text, prefer_codecs
from veo.agent.ui.ended import ended_text
from veo.i18n import gettext_for
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


def test_join_error_texts() -> None:
    invalid = join_error_text("en", Error(code="code_unknown", message="x", fatal=True))
    assert "not valid or has expired" in invalid
    assert "Too many attempts" in join_error_text("en", Error(code="rate_limited", message="x"))
    assert "server_error" in join_error_text("en", Error(code="server_error", message="x"))
    assert join_error_text("es", None)


def test_ended_texts_say_who() -> None:
    _ = str  # the source language: gettext returns the text itself
    assert ended_text(_, "technician", "resolved") == "The session has ended. The technician ended it."
    assert ended_text(_, "user", "user_stopped") == "The session has ended. You ended it."
    assert "denied" in ended_text(_, "user", "denied")
    assert "system" in ended_text(_, "system", "connection_lost")


def test_a_code_mismatch_is_told_as_possible_interception_in_the_users_language() -> None:
    for reason in ("sas_mismatch", "sas_mismatch_user", "sas_commitment_mismatch"):
        text = ended_text(gettext_for("en").gettext, "system", reason)
        assert "intercepting" in text and "ended" in text
    assert "The system ended it" in ended_text(str, "system", "connection_lost")
