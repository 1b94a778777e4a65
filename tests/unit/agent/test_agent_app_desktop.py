"""app.py: a desktop veo cannot share is said as the user's sentence before any connection."""

from __future__ import annotations

import asyncio
import queue
from typing import Any

import pytest

from veo.agent import desktop_choice
from veo.agent.app import AgentApp
from veo.agent.backend import BackendError, Reason, reason_text
from veo.agent.events import JoinFailed
from veo.i18n import gettext_for


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("reason", ["no_portal", "no_display", "unsupported_os", "no_gstreamer"])
def test_a_startup_backend_error_is_the_sentence_in_the_code_window(
    monkeypatch: pytest.MonkeyPatch, reason: Reason, language: str
) -> None:
    def refuse(env: Any = None) -> Any:
        raise BackendError(reason, "detail for the log only")

    monkeypatch.setattr(desktop_choice, "create_desktop", refuse)
    app = object.__new__(AgentApp)  # no Tk needed: the attempt stops before any window
    app.language = language
    app._ = gettext_for(language).gettext
    app.events = queue.Queue()
    asyncio.run(app._attempt("123456789"))
    said = app.events.get_nowait()
    assert isinstance(said, JoinFailed)
    assert said.message == reason_text(reason, gettext_for(language).gettext)
    assert "detail" not in said.message and "Traceback" not in said.message
    if language == "es":
        assert said.message != reason_text(reason, lambda text: text), "not translated"
    assert app.events.empty()
