"""Headless Chromium (Debian's, never a downloaded one) running inside the test namespace.

Playwright talks to the browser over a pipe, so pointing ``executable_path`` at a two-line wrapper
that ``exec``-s ``ip netns exec <ns> /usr/bin/chromium`` puts the whole browser in the namespace.
"""

from __future__ import annotations

import stat
from pathlib import Path

from veo.bench.chromium import CHROMIUM, WEBRTC_ARGS
from veo.bench.chromium import CHROMIUM_ARGS as BASE_ARGS

from .netns import NetworkNamespace

CHROMIUM_ARGS = [*BASE_ARGS, *WEBRTC_ARGS]


def chromium_wrapper(netns: NetworkNamespace, directory: Path) -> Path:
    """Write the executable that starts Chromium inside ``netns`` and return its path."""
    path = directory / "chromium-in-netns"
    path.write_text(f'#!/bin/sh\nexec ip netns exec {netns.name} {CHROMIUM} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
