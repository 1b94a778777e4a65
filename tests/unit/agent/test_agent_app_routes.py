"""Every event the session can post has exactly one handler in the app's dispatch table."""

from __future__ import annotations

import typing

from veo.agent import app
from veo.agent.events import UiEvent


def test_every_ui_event_is_routed_and_nothing_else() -> None:
    events = set(typing.get_args(UiEvent))
    assert events, "UiEvent is a union of event classes"
    assert set(app.ROUTES) == events
    for kind, handler in app.ROUTES.items():
        assert callable(handler), kind
        assert handler.__name__ in vars(app.AgentApp), f"{kind.__name__} routes to a method of AgentApp"
