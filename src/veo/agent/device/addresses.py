"""The server's addresses as the device uses them: the enrolment URL, ``/ws/device``, and the
origin its signature names. Plain ``http://`` only for this computer (``urls.checked_address``),
as everywhere in the agent: the enrolment token and the key's proof must not cross a network in
clear text."""

from __future__ import annotations

from veo.agent.urls import checked_address

ENROL_PATH = "/api/v1/enrol"
DEVICE_WS_PATH = "/ws/device"
_WEB = {"https": "https", "wss": "https", "http": "http", "ws": "http"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _parts(server: str, language: str) -> tuple[str, str, int | None, str]:
    """Scheme (``https`` or ``http``), host in lower case, port, path without a trailing slash."""
    parts = checked_address(server, language)
    return _WEB[parts.scheme.lower()], (parts.hostname or "").lower(), parts.port, parts.path.rstrip("/")


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
