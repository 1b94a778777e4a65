"""Settings, read from ``VEO_*`` environment variables (and the same as command-line flags).

One object serves server and agent so that an operator learns one naming scheme; the agent reads
only the few fields it needs. Values are validated up front: a bad setting stops start-up with a
message that names the variable, rather than failing later in the middle of a session.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from veo.protocol.agent_config import MIN_AGENT_VERSION, _server_url
from veo.protocol.ice_urls import IceUrlError, agent_turn_url, url_kind

if TYPE_CHECKING:
    from veo.server.notify.egress import AddressPolicy

SUPPORTED_LANGUAGES = ("en", "es")
#: Every agent version veo handles (a manifest's, a package's, VEO_AGENT_MIN_VERSION): up to four
#: dot-separated numbers, then letters, digits and single ``.``, ``+`` or ``~`` separators (``0.2.0``,
#: ``0.2.0~rc1``, ``0.2.0+local``). Matched whole (:func:`is_agent_version`): a version reaches file
#: names, the ``Content-Disposition`` header and the packages' control files, so quotes, slashes,
#: spaces and line breaks never pass. No ``-``: the ``.rpm`` and ``.deb`` use it to separate the
#: release. Each repetition consumes one letter or digit, so a failing match cannot backtrack
#: exponentially.
AGENT_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+){0,3}(?:[.+~]?[A-Za-z0-9])*")
AGENT_VERSION_MAX = 40
#: The longest VEO_PUBLIC_URL: what a downloaded agent's configuration holds (``EmbeddedConfig.server``).
_PUBLIC_URL_MAX = 300
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_agent_version(value: str) -> bool:
    """Whether ``value`` is a whole :data:`AGENT_VERSION` (no trailing line break), 40 characters at most."""
    return len(value) <= AGENT_VERSION_MAX and AGENT_VERSION.fullmatch(value) is not None


@functools.lru_cache(maxsize=16)
def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """``10.0.0.5, 10.0.0.0/8, fd00::/8`` as networks (an address is a one-address network).

    Cached by text (the answer is immutable): ``Settings.trusted_networks`` asks again for the
    text its validator already parsed. A cache keyed by the value, not one kept on the settings
    object, stays right for a copy made with ``model_copy(update=...)``.
    """
    found: list[IPNetwork] = []
    for item in value.split(","):
        text = item.strip()
        if not text:
            continue
        try:
            found.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(
                f"VEO_TRUSTED_PROXIES: {text[:60]!r} is not an IP address or network "
                "(e.g. 10.0.0.5, 10.0.0.0/8, fd00::/8); names are not accepted"
            ) from None
    return tuple(found)


@functools.lru_cache(maxsize=16)
def _webhook_policy(value: str) -> AddressPolicy:
    """``VEO_WEBHOOK_ALLOW`` parsed once per text (by the validator), then reused by its readers."""
    from veo.server.notify.egress import AddressPolicy  # server-only; the agent never sets it

    return AddressPolicy.parse(value)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VEO_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where the SQLite database and keys live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file veo.db under the data directory."
    )
    redis_url: str | None = Field(default=None, description="Redis URL for the bus; unset: in-process bus.")
    turn_urls: list[str] = Field(default_factory=list, description="TURN/STUN URLs handed to peers.")
    turn_secret: str | None = Field(default=None, description="coturn REST API shared secret.")
    ice_transport_policy: Literal["all", "relay"] = Field(
        default="all",
        description=(
            "relay: console and agent use only TURN relay candidates (no direct path; hides their "
            "addresses from each other); needs a turn: or turns: URL in VEO_TURN_URLS."
        ),
    )
    public_url: str = Field(default="http://127.0.0.1:8000", description="Address users and agents reach.")
    language: str = Field(default="en", description="Default language of pages and e-mails (en or es).")
    organization: str = Field(default="veo support", description="Organization name shown to end users.")
    session_code_ttl_seconds: int = Field(default=600, ge=30, le=86400)
    agent_download_url: str = Field(
        default="",
        max_length=300,
        description=(
            "Another place users may get the agent (the operator's own hosting): listed on /download, "
            "and the join page's download when this server holds no Linux build; empty: none."
        ),
    )
    source_url: str = Field(
        default="",
        max_length=300,
        description=(
            "Where this server's copy of veo's source is (its repository, at the version it runs): "
            "named on the agent's licences page, as the AGPL asks; empty: the page says to ask you."
        ),
    )
    agent_min_version: str = Field(
        default=MIN_AGENT_VERSION,
        max_length=40,
        description=(
            "The oldest veo agent version that may join (e.g. 0.2.0); an older one is told to "
            "download the new one from /download, and its code stays unused."
        ),
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for e-mail; unset: e-mail stays queued."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 SSL, 25).")
    smtp_username: str | None = Field(default=None, description="SMTP login, if the server needs one.")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_from: str = Field(default="veo@localhost", description="From address of e-mails to requesters.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_ssl: bool = Field(default=False, description="Connect to SMTP over TLS from the start (port 465).")
    smtp_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    outbox_poll_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="How often the outbox worker looks for due messages."
    )
    trusted_proxies: str = Field(
        default="",
        description=(
            "Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For or "
            "Forwarded header names the client; empty: no header is believed."
        ),
    )
    trusted_proxy_header: Literal["x-forwarded-for", "forwarded"] = Field(
        default="x-forwarded-for",
        description="The header the trusted proxies append the client to: x-forwarded-for or forwarded.",
    )
    webhook_allow: str = Field(
        default="",
        description=(
            "Addresses, networks or host names (comma-separated) that webhooks may reach although "
            "they are loopback, private or otherwise not public; empty: public addresses only."
        ),
    )
    metrics_token: str | None = Field(
        default=None,
        min_length=32,
        max_length=200,
        description=(
            "Bearer token that Prometheus sends to read /metrics; unset: only a signed-in admin may."
        ),
    )
    hsts_max_age: int = Field(
        default=31536000,
        ge=0,
        le=63072000,
        description=(
            "Strict-Transport-Security max-age in seconds, sent when VEO_PUBLIC_URL is https; 0: no header."
        ),
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="Secure flag on cookies; default: on, except on http://localhost or loopback.",
    )

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        value = value.lower()
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"VEO_LANGUAGE must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    @field_validator("turn_urls")
    @classmethod
    def _ice_urls(cls, value: list[str]) -> list[str]:
        try:
            for url in value:
                url_kind(url)
        except IceUrlError as exc:
            raise ValueError(f"VEO_TURN_URLS: {exc}") from None
        return [url.strip() for url in value]

    @field_validator("ice_transport_policy")
    @classmethod
    def _relay_needs_turn(cls, value: str, info: ValidationInfo) -> str:
        if value == "relay" and agent_turn_url(info.data.get("turn_urls") or []) is None:
            raise ValueError("VEO_ICE_TRANSPORT_POLICY=relay needs a turn: or turns: URL in VEO_TURN_URLS")
        return value

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("VEO_PUBLIC_URL must start with http:// or https://")
        # It goes into every downloaded agent and join link, checked there by the agent's own rule:
        # a value that rule refuses would make /join and /download fail at each visit instead.
        if len(value) > _PUBLIC_URL_MAX:
            raise ValueError(f"VEO_PUBLIC_URL must be at most {_PUBLIC_URL_MAX} characters long")
        try:
            return _server_url(value)
        except ValueError as exc:
            raise ValueError(
                f"VEO_PUBLIC_URL is not an address veo can hand to its agents: {exc} "
                "(for example https://support.example.org)"
            ) from None

    @field_validator("agent_download_url")
    @classmethod
    def _download_is_web(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("VEO_AGENT_DOWNLOAD_URL must start with http:// or https://")
        return value

    @field_validator("source_url")
    @classmethod
    def _source_is_web(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("VEO_SOURCE_URL must start with http:// or https://")
        return value

    @field_validator("agent_min_version")
    @classmethod
    def _a_version(cls, value: str) -> str:
        value = value.strip()
        if not is_agent_version(value):
            raise ValueError(
                f"VEO_AGENT_MIN_VERSION must be a version such as {MIN_AGENT_VERSION} (numbers separated by "
                f"dots, then optionally letters, digits, '.', '+' or '~'), not {value[:40]!r}"
            )
        return value

    @field_validator("smtp_ssl")
    @classmethod
    def _one_tls_mode(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("smtp_starttls"):
            raise ValueError("set VEO_SMTP_SSL or VEO_SMTP_STARTTLS, not both")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        return ", ".join(str(n) for n in parse_networks(value))

    @field_validator("trusted_proxy_header", mode="before")
    @classmethod
    def _header_name(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def trusted_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    @field_validator("webhook_allow")
    @classmethod
    def _webhook_allow_list(cls, value: str) -> str:
        _webhook_policy(value)
        return value

    @property
    def webhook_policy(self) -> AddressPolicy:
        """What webhooks may reach besides public addresses (``VEO_WEBHOOK_ALLOW``, parsed)."""
        return _webhook_policy(self.webhook_allow)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'veo.db').resolve()}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with command-line flags taking precedence."""
    given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**given)
