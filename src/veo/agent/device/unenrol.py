"""``veo agent unenrol``: this computer leaves its server's management, and forgets it.

The device authenticates on ``/ws/device`` like the service, sends ``device_unenrol`` and waits
for ``device_revoked``: the server revokes the key first, so the enrolment is over on both sides.

When the server cannot be reached (or does not answer), the computer forgets its enrolment
anyway: the person who wants their computer back must not depend on the server. That is safe: with
the key deleted, nobody can ever authenticate as this device again, and the device never connects
again, so no technician can reach it. The only leftover is the device's line in the server's
list, which an administrator revokes there; the command says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from veo.agent.device import device_history, keys, state
from veo.agent.device.device_history import DeviceEvent
from veo.agent.device.link import Refused, Unexpected, open_link, receive
from veo.agent.signaling import ChannelClosed, ConnectError
from veo.agent.tls import CaFileError, client_context
from veo.protocol.device import DeviceRefused, DeviceRevoked, DeviceUnenrol

log = logging.getLogger(__name__)
#: How long the server has to confirm the revocation.
CONFIRM_SECONDS = 20.0


@dataclass(frozen=True)
class Unenrolled:
    config: state.DeviceConfig
    #: ``server``: the server revoked the key; ``local``: forgotten here only
    by: Literal["server", "local"]
    problem: str = ""


class NotEnrolled(Exception):
    pass


async def tell_server(config: state.DeviceConfig, key: Ed25519PrivateKey, tls: ssl.SSLContext | None) -> str:
    """Empty when the server revoked the key, else why it could not be told (for the message)."""
    try:
        link = await open_link(config, key, tls)
    except Refused as refused:
        if refused.forget:
            return ""  # already revoked or unknown there: nothing left to revoke
        return f"refused ({refused.reason})"
    except ConnectError as exc:
        return exc.detail
    except (ChannelClosed, TimeoutError, Unexpected, OSError) as exc:
        return str(exc) or type(exc).__name__
    try:
        await link.channel.send(DeviceUnenrol().dumps())
        async with asyncio.timeout(CONFIRM_SECONDS):
            while True:
                message = await receive(link.channel)
                if isinstance(message, DeviceRevoked):
                    return ""
                if isinstance(message, DeviceRefused) and message.forget:
                    return ""
    except (ChannelClosed, TimeoutError, Unexpected, OSError) as exc:
        return str(exc) or "no confirmation from the server"
    finally:
        with contextlib.suppress(ChannelClosed, OSError, TimeoutError):
            await asyncio.wait_for(link.channel.close(), 3)


async def unenrol(directory: Path, language: str = "en") -> Unenrolled:
    """Tell the server, then forget. ``NotEnrolled``; ``state.StateError`` (unreadable key or
    configuration, e.g. not root); ``PermissionError`` when the files cannot be deleted."""
    config = state.read_config(directory)
    if config is None:
        raise NotEnrolled
    key = keys.load(directory)
    try:
        tls = client_context(config.ca_file or None, language) if config.server.startswith("https") else None
    except CaFileError as exc:
        problem = str(exc)
    else:
        problem = await tell_server(config, key, tls)
    state.forget(directory)
    by: Literal["server", "local"] = "local" if problem else "server"
    device_history.append(
        directory,
        DeviceEvent(
            kind="unenrolled",
            at=device_history.now(),
            server=config.server,
            organization=config.organization,
            device_name=config.device_name,
            detail="device" if by == "server" else "local",
        ),
    )
    log.info("unenrolled (%s)%s", by, f": {problem}" if problem else "")
    return Unenrolled(config=config, by=by, problem=problem)
