"""What a downloaded or installed agent knows before the user types anything.

Three shapes, one module, because the server writes them and the agent reads them
(``veo.agent`` never imports ``veo.server``):

* **The embedded configuration** of a one-file agent downloaded from ``/download``. The server
  appends a trailer to the operator's build at each download (the file is never rebuilt):

  ``START`` · JSON of :class:`EmbeddedConfig` · length (4 bytes, little endian) · SHA-256 of the
  JSON (32 bytes) · ``END``

  PyInstaller's bootloader finds its own archive by searching backwards for its cookie, so bytes
  after it are left alone (that is also how a signature is appended on Windows). The digest is no
  signature: anyone can make a copy that names their own server, which is why the consent dialog
  shows the server's host name as verified by TLS. The digest and the two markers catch a file cut
  short or edited by hand, so the user gets a sentence instead of a wrong address.
* **The installed configuration** of the ``.deb``: ``/etc/veo/agent.json``, the servers the
  ``veo:`` link handler may connect to (:class:`InstalledConfig`).
* **The ``veo:`` link** that the join page's *Open veo* button carries:
  ``veo://join?server=https%3A%2F%2Fsupport.example&code=123456789`` (:func:`join_link`,
  :func:`parse_join_link`).

And the agent's version, compared with the oldest the server accepts (:func:`version_key`).
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qs, quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from veo.protocol import codes

#: Opens the trailer: also how a trailer cut before its end is recognised.
START = b"\n--veo-agent-config-v1--\n"
#: Closes the trailer; the last bytes of a configured file.
END = b"--veo-agent-config-end--\n"
_TAIL = struct.Struct("<I32s")  # JSON length, SHA-256 of the JSON
#: The largest configuration a trailer may hold (a server address, a name, a code).
MAX_CONFIG_BYTES = 16 * 1024
#: How far from the end of the file a cut-short trailer's ``START`` is looked for.
SEARCH_BYTES = MAX_CONFIG_BYTES + len(START) + _TAIL.size + len(END)

#: Where the ``.deb`` puts the servers its link handler accepts.
INSTALLED_CONFIG_PATH = Path("/etc/veo/agent.json")
#: The URL scheme of the join page's *Open veo* button.
LINK_SCHEME = "veo"

#: The oldest agent the server accepts unless the operator asks for newer (``VEO_AGENT_MIN_VERSION``).
#: An agent that sends no version is older than the field: it counts as 0.1.0.
MIN_AGENT_VERSION = "0.1.0"
UNVERSIONED_AGENT = "0.1.0"

ConfigProblem = Literal["truncated", "tampered", "invalid"]


class AgentConfigError(ValueError):
    """A configuration that cannot be used; ``problem`` says which way, the agent words it."""

    def __init__(self, problem: ConfigProblem, detail: str = "") -> None:
        super().__init__(f"{problem}: {detail}" if detail else problem)
        self.problem: ConfigProblem = problem
        self.detail = detail


def _server_url(value: str) -> str:
    """An ``https://`` address (``http://`` only for loopback tests), without a trailing slash."""
    if any(ord(char) < 0x21 or char == "\x7f" for char in value.strip()):
        raise ValueError("the server address must not contain spaces or control characters")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("the server must be an http(s) address with a host name")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("the server address must not carry a query, fragment or user name")
    return value.strip().rstrip("/")


class EmbeddedConfig(BaseModel):
    """What ``/download`` writes into the file a user downloads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    #: The server that handed out this copy (its public address, ``VEO_PUBLIC_URL``).
    server: Annotated[str, Field(min_length=1, max_length=300)]
    #: The organization the server named when it handed out this copy (``VEO_ORGANIZATION``). Not
    #: shown to the user as a fact: the consent dialog names the organization the connected server
    #: says, beside the host name TLS verified.
    organization: Annotated[str, Field(max_length=200)] = ""
    #: The session's join code, when the copy was downloaded from a join link; "" otherwise.
    code: Annotated[str, Field(max_length=20)] = ""
    #: The language of the page it was downloaded from ("" = the system's).
    language: Literal["", "es", "en"] = ""

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        return _server_url(value)

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not value:
            return ""
        code = codes.normalise(value)
        if code is None:
            raise ValueError(f"the code has {codes.DIGITS} digits")
        return code


class InstalledConfig(BaseModel):
    """``/etc/veo/agent.json``: what the IT department configured the package for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    #: The servers a ``veo:`` link may name; the first is the one the launcher uses.
    servers: Annotated[list[str], Field(min_length=1, max_length=20)]
    organization: Annotated[str, Field(max_length=200)] = ""

    @field_validator("servers")
    @classmethod
    def _servers(cls, values: list[str]) -> list[str]:
        return [_server_url(value) for value in values]

    def allows(self, server: str) -> bool:
        """Whether a link's server is one of ours: scheme, host and port compared, path too."""
        try:
            wanted = _same_origin_key(_server_url(server))
        except ValueError:
            return False
        return any(_same_origin_key(mine) == wanted for mine in self.servers)


def _same_origin_key(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/")


# ---------------------------------------------------------------- the trailer


def seal(config: EmbeddedConfig) -> bytes:
    """The bytes the server appends to a build for one download."""
    payload = config.model_dump_json().encode()
    if len(payload) > MAX_CONFIG_BYTES:
        raise ValueError("configuration too large")
    return START + payload + _TAIL.pack(len(payload), hashlib.sha256(payload).digest()) + END


def unseal_tail(tail: bytes) -> EmbeddedConfig | None:
    """The configuration at the end of ``tail`` (the last :data:`SEARCH_BYTES` of a file).

    ``None``: the file carries none (a plain build, or the ``.deb``'s). A trailer that was begun
    but is cut short, edited, or holds something else raises :class:`AgentConfigError`.
    """
    if not tail.endswith(END):
        if START in tail:
            raise AgentConfigError("truncated", "the configuration's end marker is missing")
        return None
    body = tail[: -len(END)]
    if len(body) < _TAIL.size:
        raise AgentConfigError("truncated", "too short")
    length, digest = _TAIL.unpack(body[-_TAIL.size :])
    if length > MAX_CONFIG_BYTES:
        raise AgentConfigError("tampered", "length out of range")
    payload_end = len(body) - _TAIL.size
    payload_start = payload_end - length
    if payload_start < len(START) or body[payload_start - len(START) : payload_start] != START:
        raise AgentConfigError("tampered", "the configuration's start marker is not where its length says")
    payload = body[payload_start:payload_end]
    if hashlib.sha256(payload).digest() != digest:
        raise AgentConfigError("tampered", "the checksum does not match")
    try:  # pydantic's own parser: its depth limit turns deeply nested JSON into a ValidationError too
        return EmbeddedConfig.model_validate_json(payload)
    except ValidationError as exc:
        raise AgentConfigError("invalid", str(exc).splitlines()[0]) from None


def read_embedded(path: Path) -> EmbeddedConfig | None:
    """The configuration appended to the file at ``path`` (the running one-file agent)."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - SEARCH_BYTES))
        return unseal_tail(handle.read())


def read_installed(path: Path = INSTALLED_CONFIG_PATH) -> InstalledConfig | None:
    """``/etc/veo/agent.json``, or ``None`` when there is none; unreadable: :class:`AgentConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise AgentConfigError("invalid", f"{path}: {exc}") from None
    try:
        return InstalledConfig.model_validate_json(text)
    except ValidationError as exc:
        raise AgentConfigError("invalid", f"{path}: {str(exc).splitlines()[0]}") from None


# ---------------------------------------------------------------- the veo: link


def join_link(server: str, code: str = "") -> str:
    """``veo://join?server=…&code=…``: what the join page's *Open veo* button opens."""
    link = f"{LINK_SCHEME}://join?server={quote(_server_url(server), safe='')}"
    return link + (f"&code={code}" if code else "")


class JoinLink(BaseModel):
    model_config = ConfigDict(frozen=True)

    server: str
    code: str = ""


def parse_join_link(link: str) -> JoinLink:
    """A ``veo:`` link's server and code; anything else raises :class:`AgentConfigError` (``invalid``).

    The caller still checks the server against :class:`InstalledConfig`: a web page chose it.
    """
    if len(link) > 2000:
        raise AgentConfigError("invalid", "the link is too long")
    parts = urlsplit(link.strip())
    if parts.scheme.lower() != LINK_SCHEME or (parts.netloc or parts.path.strip("/")) != "join":
        raise AgentConfigError("invalid", "not a veo://join link")
    try:  # a web page writes this link: more fields than a join link has is not one
        query = parse_qs(parts.query, max_num_fields=4)
    except ValueError:
        raise AgentConfigError("invalid", "too many fields") from None
    servers = query.get("server", [])
    found_codes = query.get("code", [])
    if len(servers) != 1 or len(found_codes) > 1:
        raise AgentConfigError("invalid", "the link needs one server and at most one code")
    try:
        server = _server_url(servers[0])
    except ValueError as exc:
        raise AgentConfigError("invalid", str(exc)) from None
    code = ""
    if found_codes:
        normalised = codes.normalise(found_codes[0])
        if normalised is None:
            raise AgentConfigError("invalid", f"the code has {codes.DIGITS} digits")
        code = normalised
    return JoinLink(server=server, code=code)


# ---------------------------------------------------------------- versions


def version_key(version: str) -> tuple[int, ...]:
    """``"0.2.10"`` -> ``(0, 2, 10)``: numbers compared as numbers; a suffix after them ignored."""
    key: list[int] = []
    for part in version.strip().split(".")[:4]:
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        key.append(int(digits))
        if len(digits) != len(part):
            break
    if not key:
        raise ValueError(f"not a version: {version!r}")
    return tuple(key + [0] * (4 - len(key)))  # 0.2 == 0.2.0


def is_older(version: str, minimum: str) -> bool:
    """Whether an agent's ``version`` is older than ``minimum`` (no version: 0.1.0; unreadable: old)."""
    try:
        have = version_key(version or UNVERSIONED_AGENT)
    except ValueError:
        return True
    return have < version_key(minimum)
