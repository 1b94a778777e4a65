"""System information, on its own consent: the console asks, the user sees it all and decides.

:func:`describe` turns the collected dict into readable sections: the agent's consent window shows
them to the user and the server writes the same text to the ticket, so what the user read is what
the ticket keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

from babel.lists import format_list

from veo.protocol.base import Message
from veo.sizes import size_text


class SysinfoRequest(Message):
    type: Literal["sysinfo_request"] = "sysinfo_request"


class Sysinfo(Message):
    """Agent -> console: exactly what the user was shown and agreed to send."""

    type: Literal["sysinfo"] = "sysinfo"
    info: dict[str, Any]


class SysinfoDeclined(Message):
    type: Literal["sysinfo_declined"] = "sysinfo_declined"


# ---------------------------------------------------------------- readable text

Section = tuple[str, list[str]]


class Catalog(Protocol):
    """What :func:`describe` needs of a gettext catalog (``NullTranslations`` has both)."""

    def gettext(self, message: str, /) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int, /) -> str: ...


def _size(catalog: Catalog, locale: str, value: object) -> str:
    return size_text(value, catalog, locale) if isinstance(value, int | float) else "?"


def uptime_text(catalog: Catalog, locale: str, seconds: object) -> str:
    """How long the computer has run: ``3 days and 4 hours``, ``2 hours and 5 minutes``.

    Days and hours above a day, hours and minutes below (nobody reads seconds of an uptime).
    """
    if not isinstance(seconds, int | float):
        return "?"
    minutes_total = max(0, int(seconds)) // 60
    days, rest = divmod(minutes_total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts: list[str] = []
    if days:
        parts.append(catalog.ngettext("{count} day", "{count} days", days).format(count=days))
    if hours:
        parts.append(catalog.ngettext("{count} hour", "{count} hours", hours).format(count=hours))
    if not days and (minutes or not hours):
        parts.append(catalog.ngettext("{count} minute", "{count} minutes", minutes).format(count=minutes))
    return format_list(parts, locale=locale)


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _list(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _program_version(program: Mapping[str, Any], gettext: Callable[[str], str]) -> str:
    if not program.get("found"):
        return gettext("not installed")
    if program.get("error") == "timeout":
        return gettext("did not answer in time")
    return str(program.get("version") or "?")


def describe(info: Mapping[str, Any], catalog: Catalog, locale: str) -> list[Section]:
    """Every field of ``info`` as titled sections of lines in ``catalog``'s language; nothing is left
    out or added. ``locale`` gives Babel the decimal mark and the word that joins a list."""
    _ = catalog.gettext
    os_ = _dict(info.get("os"))
    cpu = _dict(info.get("cpu"))
    mem = _dict(info.get("memory"))
    sections: list[Section] = [
        (
            _("Operating system"),
            [
                str(os_.get("name") or os_.get("system", "")),
                _("Kernel: {release} ({version}), {machine}").format(
                    release=os_.get("release", ""),
                    version=os_.get("version", ""),
                    machine=os_.get("machine", ""),
                ),
                _("Computer name: {hostname}").format(hostname=info.get("hostname", "")),
                _("Running for: {uptime}").format(
                    uptime=uptime_text(catalog, locale, info.get("uptime_seconds"))
                ),
            ],
        ),
        (
            _("Processor and memory"),
            [
                _("{model}, {logical} threads ({physical} cores), {mhz} MHz, {load}% busy").format(
                    model=cpu.get("model", ""),
                    logical=cpu.get("logical", "?"),
                    physical=cpu.get("physical", "?"),
                    mhz=cpu.get("mhz", "?"),
                    load=cpu.get("load_percent", "?"),
                ),
                _("Memory: {total} in total, {available} available ({percent}% used); swap {swap}").format(
                    total=_size(catalog, locale, mem.get("total")),
                    available=_size(catalog, locale, mem.get("available")),
                    percent=mem.get("percent", "?"),
                    swap=_size(catalog, locale, mem.get("swap_total")),
                ),
            ],
        ),
        (
            _("Disks"),
            [
                _("{mount} ({device}, {fstype}): {free} free of {total}").format(
                    mount=d.get("mount", ""),
                    device=d.get("device", ""),
                    fstype=d.get("fstype", ""),
                    free=_size(catalog, locale, d.get("free")),
                    total=_size(catalog, locale, d.get("total")),
                )
                for d in _list(info.get("disks"))
            ],
        ),
        (
            _("Displays"),
            [
                "{name}: {w}×{h} +{x}+{y}{primary}".format(
                    name=d.get("name", ""),
                    w=d.get("width", "?"),
                    h=d.get("height", "?"),
                    x=d.get("x", 0),
                    y=d.get("y", 0),
                    primary=" " + _("(primary)") if d.get("primary") else "",
                )
                for d in _list(info.get("displays"))
            ],
        ),
        (
            _("Network interfaces"),
            [
                "{name} ({state}) {mac} {addresses}".format(
                    name=n.get("name", ""),
                    state=_("up") if n.get("up") else _("down"),
                    mac=n.get("mac", ""),
                    addresses=", ".join(_strings(n.get("addresses"))),
                ).rstrip()
                for n in _list(info.get("network"))
            ],
        ),
    ]
    for key, title in (
        ("processes_by_cpu", _("Programs using the most processor")),
        ("processes_by_memory", _("Programs using the most memory")),
    ):
        sections.append(
            (
                title,
                [
                    _("{name} (process {pid}, user {user}): {cpu}% processor, {rss} memory").format(
                        name=p.get("name", ""),
                        pid=p.get("pid", "?"),
                        user=p.get("user", ""),
                        cpu=p.get("cpu_percent", "?"),
                        rss=_size(catalog, locale, p.get("rss")),
                    )
                    for p in _list(info.get(key))
                ],
            )
        )
    sections.append(
        (
            _("Installed programs"),
            [
                f"{p.get('name', '')}: {_program_version(p, catalog.gettext)}"
                for p in _list(info.get("programs"))
            ],
        )
    )
    return sections
