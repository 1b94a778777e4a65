"""sysinfo.js: the console's tables say what the agent sent, and survive odd shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

SECTIONS = """
const { sections, sizeText } = await mod("sysinfo.js");
return {
  sizes: [sizeText(0), sizeText(1536), sizeText(8 * 1024 ** 3), sizeText("x"), sizeText(NaN)],
  sections: data.map((info) => sections(info).map((s) => [s.key, s.rows])),
};
"""

INFO = {
    "hostname": "pc-maria",
    "os": {"name": "Debian GNU/Linux 12", "release": "6.1", "machine": "x86_64"},
    "uptime_seconds": 90061,
    "memory": {"total": 8 * 1024**3, "available": 2 * 1024**3},
    "disks": [{"mount": "/", "device": "/dev/sda1", "fstype": "ext4", "free": 1024**3, "total": 4 * 1024**3}],
    "network": [{"name": "lo", "up": True, "mac": "00:00", "addresses": ["127.0.0.1", "::1"]}],
    "programs": [{"name": "git", "found": True, "version": "git 2.39"}, {"name": "x", "found": False}],
}


def test_sections_hold_the_values(run_js: RunJs) -> None:
    got = run_js(SECTIONS, [INFO, {"disks": "nope", "network": [5, {"addresses": 3}], "os": []}])
    assert got["sizes"] == ["0 B", "1.5 KB", "8.0 GB", "?", "?"]
    good, odd = (dict(s) for s in got["sections"])
    overview = {row[2]: row[1] for row in good["overview"]}
    assert overview["hostname"] == "pc-maria"
    assert overview["os"] == "Debian GNU/Linux 12 (6.1, x86_64)"
    # in words (Intl; no catalog loaded: English), as the ticket says it (protocol/sysinfo.py uptime_text)
    assert overview["uptime"] == "1 day and 1 hour"
    assert good["disks"] == [["/", "/dev/sda1 (ext4)", "1.0 GB", "4.0 GB"]]
    assert good["network"] == [["lo", "sysinfo.up", "00:00", "127.0.0.1, ::1"]]
    assert good["programs"] == [["git", "git 2.39"], ["x", "sysinfo.not_installed"]]
    assert odd["disks"] == [] and odd["network"] == [["", "sysinfo.down", "", ""]]
