"""The one list of flags Debian's Chromium runs with, for the bench and every browser test.

These machines have no route out: without the background-networking flags Chromium keeps
opening connections that the sandbox refuses, and QUIC or component updates would try too.
Keeping the list here means a flag added for one browser test reaches all of them.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"

#: What every headless Chromium here needs (root, no GPU, no network of its own).
CHROMIUM_ARGS: list[str] = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

#: Added where a page receives WebRTC from veo's agent inside a test namespace.
WEBRTC_ARGS: list[str] = [
    # aioice cannot resolve Chromium's "<uuid>.local" mDNS candidates (field note 2)
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]

#: Added where timing is measured: a hidden or occluded page gets its frames and timers throttled.
UNTHROTTLED_ARGS: list[str] = [
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
