"""Which system a visitor is on, from the browser's User-Agent: the file to offer first.

Only a guess for ordering the page: every file stays listed, and nothing is refused because of
it. Browsers reduce what they say (Chrome reports ``X11; Linux x86_64`` on every Linux, an iPad
says ``Macintosh``), so the order of the checks matters: Android says "Linux" too, ChromeOS says
"X11" (the BSDs too: unknown), and an unknown Linux architecture is taken for the common PC (x86_64).
"""

from __future__ import annotations

import re
from typing import Literal

System = Literal["linux-x86_64", "linux-other", "windows", "macos", "chromeos", "mobile", "unknown"]

#: The build that fits each system, when veo has one for it.
BUILD_FOR: dict[System, str] = {"linux-x86_64": "linux-x86_64"}

_MOBILE = re.compile(r"Android|iPhone|iPad|iPod|Mobile", re.IGNORECASE)
_OTHER_LINUX_ARCH = re.compile(
    r"\b(aarch64|arm64|armv\d+\w*|i[3-6]86|ppc64\w*|riscv64|s390x)\b", re.IGNORECASE
)


def detect(user_agent: str | None) -> System:
    """``Mozilla/5.0 (X11; Linux x86_64) …`` -> ``linux-x86_64``; an empty header: ``unknown``."""
    ua = (user_agent or "")[:512]
    if not ua:
        return "unknown"
    if _MOBILE.search(ua):
        return "mobile"
    if "CrOS" in ua:
        return "chromeos"
    if "Windows" in ua:
        return "windows"
    if "Macintosh" in ua or "Mac OS X" in ua:
        return "macos"
    if "Linux" in ua:
        return "linux-other" if _OTHER_LINUX_ARCH.search(ua) else "linux-x86_64"
    return "unknown"
