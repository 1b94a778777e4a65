"""Permissions as data (as RustDesk's ``PermissionInfo``): one enum and one function.

The effective grant of a session is the intersection of what the technician's role allows, what
the technician requested and what the user ticked on the consent dialog. Server and agent both
call :func:`effective_permissions`; the agent's result is the one that counts, because the agent
applies input and must not trust the server or the console.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Permission(StrEnum):
    VIEW = "view"
    CONTROL = "control"
    CLIPBOARD = "clipboard"
    FILES = "files"


#: What a session asks for when the technician does not say otherwise.
DEFAULT_REQUEST: frozenset[Permission] = frozenset({Permission.VIEW, Permission.CONTROL})

#: Permissions that make no sense without seeing the screen.
NEEDS_VIEW: frozenset[Permission] = frozenset({Permission.CONTROL, Permission.CLIPBOARD, Permission.FILES})


def effective_permissions(*layers: Iterable[Permission | str]) -> frozenset[Permission]:
    """Intersection of every layer (policy, request, grant); control without view is dropped."""
    result: set[Permission] | None = None
    for layer in layers:
        items = {Permission(p) for p in layer}
        result = items if result is None else result & items
    granted = frozenset(result or ())
    if Permission.VIEW not in granted:
        granted = granted - NEEDS_VIEW
    return granted


def beyond(
    requested: Iterable[Permission | str], allowed: Iterable[Permission | str]
) -> frozenset[Permission]:
    """What ``requested`` asks for outside ``allowed`` (empty when the request fits)."""
    return frozenset(Permission(p) for p in requested) - {Permission(p) for p in allowed}


def ordered(permissions: Iterable[Permission | str]) -> list[Permission]:
    """Stable order for display and storage (enum order)."""
    chosen = {Permission(p) for p in permissions}
    return [p for p in Permission if p in chosen]
