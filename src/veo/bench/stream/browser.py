"""Headless Chromium (Debian's) inside the tech namespace, driven by Playwright.

Playwright talks to the browser over a pipe, so an ``executable_path`` that ``exec``-s
``ip netns exec <tech> /usr/bin/chromium`` puts the whole browser in the namespace.
"""

from __future__ import annotations

import stat
from pathlib import Path

from veo.bench.chromium import CHROMIUM, UNTHROTTLED_ARGS, WEBRTC_ARGS
from veo.bench.chromium import CHROMIUM_ARGS as BASE_ARGS
from veo.bench.stream.lab import Lab

CHROMIUM_ARGS = [*BASE_ARGS, *WEBRTC_ARGS, *UNTHROTTLED_ARGS]
VIEWPORT = {"width": 1920, "height": 1200}
#: the window the console runs in unless ``--console-sizes`` says otherwise (today's, as before)
DEFAULT_CONSOLE = (VIEWPORT["width"], VIEWPORT["height"])


def viewport(size: tuple[int, int]) -> dict[str, int]:
    """Playwright's viewport for a console window of ``size`` (width, height) CSS pixels."""
    return {"width": size[0], "height": size[1]}


def chromium_wrapper(lab: Lab, directory: Path) -> Path:
    """Write the executable that starts Chromium inside the tech namespace; return its path."""
    path = directory / "chromium-in-netns"
    path.write_text(f'#!/bin/sh\nexec ip netns exec {lab.tech} {CHROMIUM} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
