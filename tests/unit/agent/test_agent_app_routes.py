"""Every event the session can post has exactly one owner: the app's dispatch table or one feature."""

from __future__ import annotations

import typing

from veo.agent import app
from veo.agent.events import UiEvent
from veo.agent.features import FEATURES


def test_every_ui_event_is_routed_once_and_nothing_else() -> None:
    events = set(typing.get_args(UiEvent))
    assert events, "UiEvent is a union of event classes"
    owned: list[type] = list(app.ROUTES)
    for feature in FEATURES:
        assert feature.EVENTS, f"{feature.__name__} handles some event"
        owned.extend(feature.EVENTS)
    assert sorted(k.__name__ for k in owned) == sorted(k.__name__ for k in events)  # each once
    assert set(owned) == events
    for kind, handler in app.ROUTES.items():
        assert callable(handler), kind
        assert handler.__name__ in vars(app.AgentApp), f"{kind.__name__} routes to a method of AgentApp"


def test_the_app_builds_one_of_each_feature() -> None:
    """The list the app loops over holds every feature class (a new one cannot be left unwired)."""
    import inspect

    source = inspect.getsource(app.AgentApp.__init__)
    for feature in FEATURES:
        assert feature.__name__ + "(" in source, feature.__name__
