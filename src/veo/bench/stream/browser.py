"""Headless Chromium (Debian's) inside the tech namespace, driven by Playwright.

Playwright talks to the browser over a pipe, so an ``executable_path`` that ``exec``-s
``ip netns exec <tech> /usr/bin/chromium`` puts the whole browser in the namespace.
"""

from __future__ import annotations

import stat
from pathlib import Path

from veo.bench.stream.lab import Lab

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # aioice cannot resolve Chromium's "<uuid>.local" mDNS candidates (field note 2)
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
    # a hidden or occluded page would get its frames and timers throttled
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
VIEWPORT = {"width": 1920, "height": 1200}


def chromium_wrapper(lab: Lab, directory: Path) -> Path:
    """Write the executable that starts Chromium inside the tech namespace; return its path."""
    path = directory / "chromium-in-netns"
    path.write_text(f'#!/bin/sh\nexec ip netns exec {lab.tech} {CHROMIUM} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
