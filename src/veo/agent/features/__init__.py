"""The agent's per-session features, one module each (the interface: ``base.py``).

The app builds one of each (``AgentApp.__init__``) and loops over the list: attach, start, events, close.
"""

from __future__ import annotations

from veo.agent.features.asking import AskingFeature
from veo.agent.features.base import Feature, Surroundings
from veo.agent.features.chat import ChatFeature
from veo.agent.features.files import FilesFeature
from veo.agent.features.sysinfo import SysinfoFeature

#: every feature's class: each ``UiEvent`` belongs to the app or to exactly one of these
FEATURES: tuple[type, ...] = (AskingFeature, ChatFeature, SysinfoFeature, FilesFeature)


__all__ = [
    "FEATURES",
    "AskingFeature",
    "ChatFeature",
    "Feature",
    "FilesFeature",
    "Surroundings",
    "SysinfoFeature",
]
