"""The server's addresses as the device uses them: the enrolment URL, ``/ws/device``, and the
origin its signature names. Plain ``http://`` only for this computer (``urls.is_loopback_host``),
as everywhere in the agent: the enrolment token and the key's proof must not cross a network in
clear text."""

from __future__ import annotations

from urllib.parse import urlsplit

from veo.agent.urls import ServerUrlError, is_loopback_host
from veo.i18n import gettext_for

ENROL_PATH = "/api/v1/enrol"
DEVICE_WS_PATH = "/ws/device"
_WEB = {"https": "https", "wss": "https", "http": "http", "ws": "http"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _parts(server: str, language: str) -> tuple[str, str, int | None, str]:
    _ = gettext_for(language).gettext
    parts = urlsplit(server.strip())
    scheme = _WEB.get(parts.scheme.lower())
    if scheme is None:
        raise ServerUrlError(
            _("The server address must start with https:// (got {url!r}).").format(url=server)
        )
    try:
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise ServerUrlError(
            _("The server address has an invalid port: {url!r}.").format(url=server)
        ) from None
    if not host:
        raise ServerUrlError(_("The server address has no host name: {url!r}.").format(url=server))
    if scheme == "http" and not is_loopback_host(host):
        raise ServerUrlError(
            _(
                "Refusing the unencrypted address {url!r}: use https:// "
                "(plain http:// is only allowed for this computer, localhost)."
            ).format(url=server)
        )
    return scheme, host, port, parts.path.rstrip("/")


def origin(server: str, language: str = "en") -> str:
    """``https://Support.example:443/x`` -> ``https://support.example`` (what the device signs)."""
    scheme, host, port, _path = _parts(server, language)
    if ":" in host:
        host = f"[{host}]"
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host}{suffix}"


def base_url(server: str, language: str = "en") -> str:
    """The server's address with its path, no trailing slash (stored in ``device.json``)."""
    _scheme, _host, _port, path = _parts(server, language)
    return origin(server, language) + path


def enrol_url(server: str, language: str = "en") -> str:
    return base_url(server, language) + ENROL_PATH


def device_ws_url(server: str, language: str = "en") -> str:
    web = base_url(server, language)
    return (
        "wss" + web[len("https") :] if web.startswith("https") else "ws" + web[len("http") :]
    ) + DEVICE_WS_PATH
