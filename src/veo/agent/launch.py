"""Where the agent's server, code and language come from, before any window opens.

A person who runs veo from a terminal types ``--server`` (and maybe ``--code``). Everybody else
never types an address: the copy they downloaded from their support department's page carries it
(the embedded trailer, ``veo.protocol.agent_config``), or the package IT installed names it
(``/etc/veo/agent.json``), and the join page's *Open veo* button hands over a ``veo://join`` link.

Precedence, first that applies wins (the code comes with the server it belongs to):

1. ``--server`` (with ``--code`` if given): nothing else is read.
2. a ``veo://join?server=…&code=…`` link, only when the installed configuration lists its server:
   a web page chose that address, and a page must not be able to point veo at another server.
3. the trailer of the running file (``sys.executable`` of the one-file build, or the hidden
   ``--embedded-from PATH`` for tests of the non-frozen agent). On a computer IT configured (the
   installed configuration exists), only when that configuration lists the trailer's server: a
   copy downloaded from some other page must not connect where IT's list does not allow.
4. the installed configuration's first server.

``--code`` replaces the code of whichever source gave the server. Every problem is a
:class:`LaunchProblem` carrying one sentence in the user's language: the agent says it on the
terminal, in the log and, since a downloaded or installed agent has no terminal, in a window.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from veo.i18n import gettext_for
from veo.protocol.agent_config import (
    INSTALLED_CONFIG_PATH,
    AgentConfigError,
    EmbeddedConfig,
    InstalledConfig,
    parse_join_link,
    read_embedded,
    read_installed,
)

#: Overrides :data:`INSTALLED_CONFIG_PATH` (tests; a system that keeps it elsewhere).
INSTALLED_CONFIG_ENV = "VEO_AGENT_INSTALLED_CONFIG"

Source = Literal["command_line", "link", "embedded", "installed"]
ProblemKind = Literal[
    "embedded_truncated",
    "embedded_damaged",
    "embedded_unreadable",
    "link_invalid",
    "link_refused",
    "copy_refused",  # a downloaded copy for a server the installed configuration does not list
    "installed_invalid",
    "no_server",
    "bad_address",  # a configured address the agent refuses (plain http:// off this computer)
]


@dataclass(frozen=True)
class Launch:
    """What the agent connects to, decided once at start."""

    server: str
    #: the join code to use at once (``--code``, the link's, the download's); ``None``: ask for it
    code: str | None
    #: the language of the windows: ``--lang``, else the download page's, else the system's
    language: str
    #: the organization the configuration names ("" from the command line)
    organization: str
    source: Source


class LaunchProblem(Exception):
    """The agent cannot start as configured; ``message`` is for the user, ``detail`` for the log."""

    def __init__(self, kind: ProblemKind, message: str, language: str, detail: str = "") -> None:
        super().__init__(message)
        self.kind: ProblemKind = kind
        self.message = message
        self.language = language
        self.detail = detail


def installed_config_path() -> Path:
    """``$VEO_AGENT_INSTALLED_CONFIG``, else ``/etc/veo/agent.json``."""
    return Path(os.environ.get(INSTALLED_CONFIG_ENV) or INSTALLED_CONFIG_PATH)


def embedded_source(embedded_from: str | None) -> Path | None:
    """The file whose trailer to read: ``--embedded-from``, the one-file build itself, or none."""
    if embedded_from:
        return Path(embedded_from)
    if getattr(sys, "frozen", False):
        return Path(sys.executable)
    return None


#: How much of an address a sentence shows: a link's address is chosen by a web page.
LABEL_CHARS = 80


def server_label(server: str) -> str:
    """How an address is shown to people: ``support.example.org`` (with its port and path if any).

    ``https://`` goes without saying; any other scheme stays visible. A host name in another
    script is shown as the ASCII name TLS checks (``xn--…``), so a look-alike letter cannot pass
    for the real name; a very long address is cut with "…".
    """
    parts = urlsplit(server)
    netloc = parts.netloc.rpartition("@")[2]
    if not netloc.isascii():
        try:
            netloc = netloc.encode("idna").decode("ascii")
        except UnicodeError:
            netloc = netloc.encode("ascii", "backslashreplace").decode("ascii")
    shown = (netloc + parts.path).rstrip("/")
    if parts.scheme.lower() != "https":
        shown = f"{parts.scheme}://{shown}"
    return shown if len(shown) <= LABEL_CHARS else shown[: LABEL_CHARS - 1] + "…"


def decide(
    *,
    server: str | None,
    code: str | None,
    link: str | None,
    embedded: Path | None,
    installed: Path,
    language: str | None,
    system_language: str,
) -> Launch:
    """The server, code and language to start with, or :class:`LaunchProblem`.

    ``code`` is ``--code`` already normalised; ``language`` is ``--lang`` (``None``: not given).
    Sources below the one that answers are not read: a damaged trailer does not stop an agent
    started with ``--server``, a missing ``/etc/veo/agent.json`` does not stop a downloaded copy.
    """
    words = language or system_language

    def problem(kind: ProblemKind, lang: str, detail: str = "", **names: str) -> LaunchProblem:
        return LaunchProblem(kind, problem_text(gettext_for(lang).gettext, kind, **names), lang, detail)

    if server:
        return Launch(server, code, words, "", "command_line")
    if link:
        try:
            parsed = parse_join_link(link)
        except AgentConfigError as exc:
            raise problem("link_invalid", words, exc.detail) from None
        allowed = _installed(installed, words, problem)
        if allowed is None or not allowed.allows(parsed.server):
            configured = _labels(allowed)
            raise problem(
                "link_refused",
                words,
                f"link to {parsed.server}, configured: {configured or 'none'}",
                host=server_label(parsed.server),
                configured=configured,
            )
        return Launch(parsed.server, code or parsed.code or None, words, allowed.organization, "link")
    if embedded is not None:
        config = _embedded(embedded, words, problem)
        if config is not None:
            lang = language or config.language or system_language
            managed = _installed(installed, lang, problem)
            if managed is not None and not managed.allows(config.server):
                configured = _labels(managed)
                raise problem(
                    "copy_refused",
                    lang,
                    f"downloaded copy for {config.server}, configured: {configured}",
                    host=server_label(config.server),
                    configured=configured,
                )
            return Launch(config.server, code or config.code or None, lang, config.organization, "embedded")
    found = _installed(installed, words, problem)
    if found is not None:
        return Launch(found.servers[0], code, words, found.organization, "installed")
    raise problem("no_server", words, "no --server, link, embedded or installed configuration")


def _labels(installed: InstalledConfig | None) -> str:
    """The servers IT configured, as a refusal names them ("" when none is)."""
    return ", ".join(server_label(server) for server in installed.servers) if installed else ""


def _embedded(path: Path, language: str, problem: Callable[..., LaunchProblem]) -> EmbeddedConfig | None:
    try:
        return read_embedded(path)
    except AgentConfigError as exc:
        kind: ProblemKind = "embedded_truncated" if exc.problem == "truncated" else "embedded_damaged"
        raise problem(kind, language, f"{path}: {exc}") from None
    except OSError as exc:
        raise problem("embedded_unreadable", language, f"{path}: {exc}", path=str(path)) from None


def _installed(path: Path, language: str, problem: Callable[..., LaunchProblem]) -> InstalledConfig | None:
    try:
        return read_installed(path)
    except AgentConfigError as exc:
        raise problem("installed_invalid", language, str(exc), path=str(path)) from None


def problem_text(_: Callable[[str], str], kind: ProblemKind, **names: str) -> str:
    """The sentence for each problem: what happened and what the person can do about it."""
    if kind == "embedded_truncated":
        return _("This copy of veo is incomplete: download it again from your support department's page.")
    if kind == "embedded_damaged":
        return _(
            "This copy of veo is damaged or was changed after it was downloaded: "
            "download it again from your support department's page."
        )
    if kind == "embedded_unreadable":
        return _(
            "veo cannot read its own file ({path}): download it again from your support department's page."
        ).format(**names)
    if kind == "link_invalid":
        return _(
            "veo cannot use the link it was opened with: it is not a complete veo link. "
            "Open it again from the page your technician gave you, or start veo and type the code."
        )
    if kind == "link_refused":
        if names.get("configured"):
            return _(
                "This link asks veo to connect to {host}, which is not your organization's support "
                "server ({configured}). veo did not connect."
            ).format(**names)
        return _(
            "This link asks veo to connect to {host}, but no support server is configured for veo "
            "links on this computer. veo did not connect."
        ).format(**names)
    if kind == "copy_refused":
        return _(
            "This copy of veo connects to {host}, which is not your organization's support "
            "server ({configured}). veo did not connect. Use the veo your IT department installed."
        ).format(**names)
    if kind == "installed_invalid":
        return _(
            "veo's configuration on this computer ({path}) cannot be read: ask your IT department "
            "to reinstall veo."
        ).format(**names)
    return _(
        "veo does not know which support server to connect to. Download veo from your support "
        "department's page (that copy knows the address), or open the link your technician sent you."
    )
