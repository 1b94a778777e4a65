"""Choose the bus from the settings, as uvicorn's ``auto`` modules choose a loop."""

from __future__ import annotations

from veo.config import Settings
from veo.server.bus.base import Bus
from veo.server.bus.memory import MemoryBus


class BusConfigError(RuntimeError):
    """The configured bus cannot be used; the message names the setting."""


def create_bus(settings: Settings) -> Bus:
    """In-process bus unless ``VEO_REDIS_URL`` is set (Redis support is not built yet)."""
    if settings.redis_url:
        raise BusConfigError(
            "VEO_REDIS_URL is set but the Redis bus is not available in this version; "
            "unset VEO_REDIS_URL to use the in-process bus (single server node)"
        )
    return MemoryBus()
