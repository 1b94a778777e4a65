"""System information, on its own consent: the console asks, the user sees it all and decides."""

from __future__ import annotations

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
