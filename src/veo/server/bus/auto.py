"""Choose the bus from the settings, as uvicorn's ``auto`` modules choose a loop."""

from __future__ import annotations

from veo.config import Settings
from veo.server.bus.base import Bus
from veo.server.bus.memory import MemoryBus


class BusConfigError(RuntimeError):
    """The configured bus cannot be used; the message names the setting."""


def create_bus(settings: Settings) -> Bus:
    """Redis when ``VEO_REDIS_URL`` is set, else the in-process bus (one server node)."""
    if not settings.redis_url:
        return MemoryBus()
    if not settings.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise BusConfigError("VEO_REDIS_URL must start with redis://, rediss:// or unix://")
    try:
        from veo.server.bus.redis import RedisBus
    except ImportError:
        raise BusConfigError(
            "VEO_REDIS_URL is set but the redis package is missing: install veo[server]"
        ) from None
    return RedisBus(settings.redis_url)
