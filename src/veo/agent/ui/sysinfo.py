"""The separate consent for system information: the user reads exactly what would be sent.

The window lists every collected value in readable sections (:func:`describe`), with *Send* and
*Don't send*. It is a second, specific consent: allowing the session did not allow this. Closing
the window is *Don't send*. Nothing has left the computer while it is open
(:class:`veo.agent.sysinfo.AgentSysinfo` holds the data until *Send*).

Log line: ``ui-geometry sysinfo {"send": [...], "decline": [...], "details": [...]}``.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable, Mapping
from typing import Any

from veo.agent.ui.common import PAD, Fonts, GeometryReporter, keep_on_top, place

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
                    addresses=", ".join(str(a) for a in n.get("addresses", []) if isinstance(a, str)),
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


class SysinfoWindow:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        technician: str,
        info: Mapping[str, Any],
        on_send: Callable[[], None],
        on_decline: Callable[[], None],
    ) -> None:
        _ = gettext
        self.window = tk.Toplevel(root)
        self.window.title(_("Information about this computer"))
        keep_on_top(self.window)
        self.window.protocol("WM_DELETE_WINDOW", on_decline)
        frame = tk.Frame(self.window, padx=PAD * 2, pady=PAD * 2)
        frame.pack(fill="both", expand=True)
        tk.Label(
            frame,
            text=_("{technician} asks for information about this computer").format(technician=technician),
            font=fonts.title,
            wraplength=620,
            justify="left",
        ).pack(anchor="w")
        tk.Label(
            frame,
            text=_(
                "This is exactly what would be sent. It helps the technician find the problem and "
                "is attached to your ticket. Nothing has been sent yet; you decide."
            ),
            font=fonts.body,
            wraplength=620,
            justify="left",
        ).pack(anchor="w", pady=(PAD // 2, PAD // 2))
        box = tk.Frame(frame)
        box.pack(fill="both", expand=True)
        self.details = tk.Text(box, width=70, height=16, font=fonts.body, wrap="word")
        scroll = tk.Scrollbar(box, command=self.details.yview)
        self.details.configure(yscrollcommand=scroll.set)
        self.details.tag_configure("title", font=fonts.bold)
        for title, lines in describe(info, gettext):
            self.details.insert("end", title + "\n", ("title",))
            for line in lines or [_("(none)")]:
                self.details.insert("end", "  " + line + "\n")
        self.details.configure(state="disabled")
        self.details.pack(side="left", fill="both", expand=True)
        scroll.pack(side="right", fill="y")
        buttons = tk.Frame(frame)
        buttons.pack(fill="x", pady=(PAD, 0))
        self.send = tk.Button(buttons, text=_("Send"), font=fonts.bold, command=on_send, padx=PAD)
        self.send.pack(side="right")
        self.decline = tk.Button(buttons, text=_("Don't send"), font=fonts.body, command=on_decline, padx=PAD)
        self.decline.pack(side="right", padx=(0, PAD))
        place(self.window)
        self.geometry = GeometryReporter(
            self.window, "sysinfo", {"send": self.send, "decline": self.decline, "details": self.details}
        )

    def close(self) -> None:
        with contextlib.suppress(tk.TclError):
            self.window.destroy()
