"""System information, on its own consent: the console asks, the user sees it all and decides.

:func:`describe` turns the collected dict into readable sections: the agent's consent window shows
them to the user and the server writes the same text to the ticket, so what the user read is what
the ticket keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from veo.protocol.base import Message


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


def size_text(value: object) -> str:
    """Bytes as people read them: 15.6 GB, 512.0 MB."""
    if not isinstance(value, int | float):
        return "?"
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if amount < 1024 or unit == "TB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TB"  # pragma: no cover - the loop always returns


def duration_text(gettext: Callable[[str], str], seconds: object) -> str:
    _ = gettext
    if not isinstance(seconds, int):
        return "?"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return _("{days} d {hours} h {minutes} min").format(days=days, hours=hours, minutes=minutes)


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


def describe(info: Mapping[str, Any], gettext: Callable[[str], str]) -> list[Section]:
    """Every field of ``info`` as titled sections of lines; nothing is left out or added."""
    _ = gettext
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
                _("Running for: {uptime}").format(uptime=duration_text(gettext, info.get("uptime_seconds"))),
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
                    total=size_text(mem.get("total")),
                    available=size_text(mem.get("available")),
                    percent=mem.get("percent", "?"),
                    swap=size_text(mem.get("swap_total")),
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
                    free=size_text(d.get("free")),
                    total=size_text(d.get("total")),
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
                        rss=size_text(p.get("rss")),
                    )
                    for p in _list(info.get(key))
                ],
            )
        )
    sections.append(
        (
            _("Installed programs"),
            [f"{p.get('name', '')}: {_program_version(p, gettext)}" for p in _list(info.get("programs"))],
        )
    )
    return sections
