"""The codec check on the console's answer: a browser that plays none of the offered codecs.

The answers in ``sdp/`` are real: Debian's firefox-esr 153 (no OpenH264) and Chromium 156 (H.264
removed from its codec preferences) answering an agent offer made with ``--codec h264``, and
firefox-esr answering the default offer (H.264 + VP8) with VP8.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from veo.agent import encoder, endings
from veo.i18n import gettext_for
from veo.protocol.signaling import CODEC_UNSUPPORTED_REASONS

SDP = Path(__file__).parent / "sdp"
FIREFOX_REJECTS_H264 = (SDP / "firefox-esr-153-rejects-h264.sdp").read_text()
CHROMIUM_REJECTS_H264 = (SDP / "chromium-156-rejects-h264.sdp").read_text()
FIREFOX_TAKES_VP8 = (SDP / "firefox-esr-153-takes-vp8.sdp").read_text()
H264_ONLY = ("video/H264",)
BOTH = ("video/H264", "video/VP8")


@pytest.mark.parametrize("answer", [FIREFOX_REJECTS_H264, CHROMIUM_REJECTS_H264], ids=["firefox", "chromium"])
def test_a_rejected_video_line_is_refused(answer: str) -> None:
    assert encoder.video_refused(answer, H264_ONLY)
    assert encoder.video_refused(answer, BOTH)  # port 0 is a refusal whatever was offered


def test_an_answer_with_an_offered_codec_is_not_refused() -> None:
    assert not encoder.video_refused(FIREFOX_TAKES_VP8, BOTH)


def test_an_answer_whose_codec_was_not_offered_is_refused() -> None:
    # a live port but only VP8, when the agent offered H.264 alone: nothing in common
    assert encoder.video_refused(FIREFOX_TAKES_VP8, H264_ONLY)


def test_a_malformed_answer_is_left_to_aiortc() -> None:
    assert not encoder.video_refused("not an sdp", BOTH)


def test_the_reason_names_the_forced_codec() -> None:
    assert encoder.unsupported_reason("h264") == "codec_unsupported_h264"
    assert encoder.unsupported_reason("vp8") == "codec_unsupported_vp8"
    assert encoder.unsupported_reason("auto") == "codec_unsupported"
    assert {encoder.unsupported_reason(c) for c in encoder.CODECS} == CODEC_UNSUPPORTED_REASONS


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("reason", sorted(CODEC_UNSUPPORTED_REASONS))
def test_the_user_reads_that_the_browser_cannot_show_the_screen(reason: str, language: str) -> None:
    gettext = gettext_for(language).gettext
    told = endings.ending(gettext, "user", reason, "ACME IT", started=False)
    assert told.kind is endings.Kind.CODEC
    text = " ".join((told.headline, *told.body, endings.ended_by_text(gettext, "user", reason, "")))
    assert "codec" not in text and "_" not in text
    if language == "en":  # the Spanish wording belongs to the agent's texts (endings.py)
        assert "browser cannot show your screen" in told.headline
