"""Where the agent connects, and the refusal of plain-text transports outside this computer.

The join code and every SDP travel over this WebSocket; over plain ``ws://`` anybody on the path
could read the code or swap the DTLS fingerprints. Plain text is accepted only for the loopback
host, where tests and local trials run.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit, urlunsplit

from veo.i18n import gettext_for

AGENT_WS_PATH = "/ws/agent"
_SECURE = {"https": "wss", "wss": "wss"}
_PLAIN = {"http": "ws", "ws": "ws"}


class ServerUrlError(ValueError):
    """The ``--server`` address cannot be used; the message says why, for people."""


def is_loopback_host(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 and ::1 only: the addresses that never leave this computer."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_address(server: str, language: str = "en") -> SplitResult:
    """``server`` split, or :class:`ServerUrlError` saying why it cannot be used: a web or
    WebSocket scheme, a port that parses, a host, and plain text only for this computer. One
    check for every address the agent reaches (``/ws/agent`` here, the device's in
    ``device/addresses.py``)."""
    _ = gettext_for(language).gettext
    parts = urlsplit(server.strip())
    scheme = parts.scheme.lower()
    if scheme not in _SECURE and scheme not in _PLAIN:
        raise ServerUrlError(
            _("The server address must start with https:// (got {url!r}).").format(url=server)
        )
    try:
        host = parts.hostname or ""
        _port = parts.port
    except ValueError:
        raise ServerUrlError(
            _("The server address has an invalid port: {url!r}.").format(url=server)
        ) from None
    if not host:
        raise ServerUrlError(_("The server address has no host name: {url!r}.").format(url=server))
    if scheme in _PLAIN and not is_loopback_host(host):
        raise ServerUrlError(
            _(
                "Refusing the unencrypted address {url!r}: use https:// "
                "(plain http:// is only allowed for this computer, localhost)."
            ).format(url=server)
        )
    return parts


def agent_ws_url(server: str, language: str = "en") -> str:
    """The ``/ws/agent`` WebSocket URL for a server address (``https`` -> ``wss``)."""
    parts = checked_address(server, language)
    scheme = parts.scheme.lower()
    ws_scheme = _SECURE.get(scheme) or _PLAIN[scheme]
    path = parts.path.rstrip("/") + AGENT_WS_PATH
    return urlunsplit((ws_scheme, parts.netloc, path, "", ""))
