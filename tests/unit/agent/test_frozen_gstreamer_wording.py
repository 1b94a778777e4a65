"""The one-file agent never tells the user to install GStreamer: it carries its own."""

from __future__ import annotations

import sys

import pytest

from veo.agent.backend import reason_text
from veo.i18n import gettext_for


def test_the_python_package_asks_for_gstreamer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", False, raising=False)
    assert "install" in reason_text("no_gstreamer", gettext_for("en").gettext)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_one_file_agent_names_a_way_on_instead(monkeypatch: pytest.MonkeyPatch, language: str) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    text = reason_text("no_gstreamer", gettext_for(language).gettext)
    assert "GStreamer" not in text and "IT department" not in text
    assert "X11" in text  # an X11 session is a way on
    if language == "en":
        assert "damaged" in text and "browser" in text
    # other reasons are the same frozen or not
    assert reason_text("no_portal", gettext_for(language).gettext)
