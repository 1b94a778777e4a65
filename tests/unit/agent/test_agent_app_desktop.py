"""app.py: a desktop veo cannot share is said as the user's sentence before any connection."""

from __future__ import annotations

import asyncio
import queue
from typing import Any

import pytest

from veo.agent import desktop_choice
from veo.agent.app import AgentApp, follow_pointer
from veo.agent.backend import Backend, BackendError, Reason, reason_text
from veo.agent.desktop import DesktopGrant
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


class Source:
    """A pointer that never moves (cursor.PointerSource); counts its readings."""

    def __init__(self) -> None:
        self.readings = 0

    def position(self) -> tuple[int, int]:
        self.readings += 1
        return (10, 20)

    def changed_image(self) -> None:
        return None


@pytest.mark.parametrize(("backend", "in_picture"), [("x11", False), ("x11", True), ("portal", True)])
async def test_the_pointer_is_data_only_where_it_is_the_users_and_not_in_the_picture(
    backend: Backend, in_picture: bool
) -> None:
    from tests.unit.agent.test_agent_desktop_step import ALL, STREAM, FakeDesktop, Harness, settle

    desktop = FakeDesktop(
        DesktopGrant(backend=backend, streams=(STREAM,), pointer_in_picture=in_picture), backend=backend
    )
    h = Harness(desktop)
    source = Source()
    pointer = follow_pointer(h.session, desktop, lambda: source)  # type: ignore[arg-type,return-value]
    try:
        assert (pointer is None) is (backend == "portal"), "XWayland's pointer is not the user's"
        h.session.allow(ALL)
        await settle()
        await asyncio.sleep(0.3)  # the watcher polls every 1/60 s while wanted
        cursors = h.dc.of("cursor")
        if backend == "x11" and not in_picture:
            assert cursors and cursors[-1]["x"] == 10, "the pointer as data on X11"
        else:
            assert cursors == [], "a second pointer over the one in the picture"
    finally:
        if pointer is not None:
            pointer.close()
        await h.close()
