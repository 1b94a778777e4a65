"""Policy capabilities: the protocol's permissions plus the server-side extras a role may hold.

``view``, ``control``, ``clipboard`` and ``files`` are :class:`veo.protocol.permissions.Permission`
values that travel to the agent; ``unattended`` and ``recording`` never do (the server decides
them alone), so they live here and not in the wire contract.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from veo.protocol.permissions import Permission


class Capability(StrEnum):
    VIEW = "view"
    CONTROL = "control"
    CLIPBOARD = "clipboard"
    FILES = "files"
    UNATTENDED = "unattended"
    RECORDING = "recording"


#: Capabilities that are also protocol permissions.
PROTOCOL_CAPABILITIES: frozenset[Capability] = frozenset(Capability(p.value) for p in Permission)


class UnknownCapability(ValueError):
    """A name that is not a :class:`Capability`; carries the offending name for the message."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def parse_capabilities(items: Iterable[str]) -> frozenset[Capability]:
    """Names to capabilities; blanks are skipped, an unknown name raises :class:`UnknownCapability`."""
    result: set[Capability] = set()
    for raw in items:
        name = raw.strip().lower()
        if not name:
            continue
        try:
            result.add(Capability(name))
        except ValueError:
            raise UnknownCapability(raw.strip()) from None
    return frozenset(result)


def permissions_of(capabilities: Iterable[Capability]) -> frozenset[Permission]:
    """The protocol permissions among ``capabilities``."""
    return frozenset(Permission(c.value) for c in capabilities if c in PROTOCOL_CAPABILITIES)


def ordered(capabilities: Iterable[Capability | str]) -> list[Capability]:
    """Stable (enum) order for display and storage."""
    chosen = {Capability(c) for c in capabilities}
    return [c for c in Capability if c in chosen]
