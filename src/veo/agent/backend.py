"""Which desktop the agent works with, decided once, the same way for every part of it.

Capture, input, the annotation overlay and the stop key each have an X11 implementation and a
Wayland one (the xdg-desktop-portal RemoteDesktop + ScreenCast portals). They must never
disagree (portal capture with XTest input would inject into XWayland only, where the user's
Wayland windows never see it), so every chooser asks :func:`backend` and nothing else.

The decision: ``veo agent --backend x11|portal`` or ``VEO_AGENT_BACKEND`` when given; otherwise
the portal on a Wayland session (``XDG_SESSION_TYPE=wayland`` or ``WAYLAND_DISPLAY`` set) and X11
on an X11 one. A Wayland session also has ``DISPLAY`` (XWayland), but XWayland shows only the
windows of X11 programs: capture through it would be a black screen with a few windows on it.

What is missing is said as one sentence in the user's language (:func:`reason_text`), naming what
the desktop lacks; the technician's console gets the same reason as a code in the ``desktop``
data-channel message and words it in the technician's language.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Literal, get_args

Backend = Literal["x11", "portal"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)
BACKEND_ENV = "VEO_AGENT_BACKEND"

#: Why the agent cannot do something on this desktop (each has a sentence in :func:`reason_text`).
Reason = Literal[
    "unsupported_os",  # not Linux (Windows and macOS come later)
    "no_display",  # neither DISPLAY nor WAYLAND_DISPLAY: not started inside a desktop session
    "no_portal",  # Wayland without xdg-desktop-portal (or without its ScreenCast portal)
    "no_remote_desktop",  # ScreenCast but no RemoteDesktop portal (wlroots): view only
    "control_refused",  # the user left "allow remote interaction" off in the desktop's dialog
    "control_at_start",  # control unticked in veo's dialog: the portal gives it only at the start
    "portal_cancelled",  # the user cancelled the desktop's own sharing dialog
    "portal_failed",  # the portal answered with an error
    "no_gstreamer",  # PyGObject or GStreamer's PipeWire plugin is not installed
    "no_overlay",  # marks cannot be drawn above Wayland windows: they stay in the console
    "no_stop_key",  # no global shortcut on this desktop: the bar's Stop button is the way out
]


class BackendError(RuntimeError):
    """Something this desktop does not allow or lacks; :attr:`reason` says what, for both sides."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: Reason = reason
        self.detail = detail


_forced: Backend | None = None


def configure(forced: str | None) -> None:
    """``veo agent --backend`` (``None``: ``VEO_AGENT_BACKEND``, else detect); raises ValueError."""
    global _forced
    value = forced or os.environ.get(BACKEND_ENV) or None
    if value is not None and value not in BACKENDS:
        raise ValueError(value)
    _forced = value  # type: ignore[assignment]


def detect(env: Mapping[str, str]) -> Backend:
    """The backend this session's environment calls for, ignoring any override."""
    if env.get("XDG_SESSION_TYPE", "").lower() == "wayland" or env.get("WAYLAND_DISPLAY"):
        return "portal"
    return "x11"


def backend(env: Mapping[str, str] | None = None) -> Backend:
    """The backend every chooser uses: the override when given, else :func:`detect`.

    Raises :class:`BackendError` where no backend can work at all.
    """
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        raise BackendError("unsupported_os", sys.platform)
    chosen = _forced or detect(env)
    if chosen == "x11" and not env.get("DISPLAY"):
        raise BackendError("no_display")
    if chosen == "portal" and not env.get("DBUS_SESSION_BUS_ADDRESS") and not env.get("XDG_RUNTIME_DIR"):
        raise BackendError("no_display", "no session bus")
    return chosen


def reason_text(reason: Reason, _: Callable[[str], str]) -> str:
    """The sentence the user reads (``_`` is their catalog's gettext)."""
    texts: dict[Reason, str] = {
        "unsupported_os": _("veo cannot share the screen of this operating system yet."),
        "no_display": _(
            "veo cannot find your desktop. Start veo from a window on your desktop, not from a "
            "remote terminal."
        ),
        "no_portal": _(
            "This desktop does not offer screen sharing to applications (the xdg-desktop-portal "
            "service is missing). Ask your IT department to install it."
        ),
        "no_remote_desktop": _(
            "This desktop does not allow remote control: the technician can see your screen "
            "but cannot use your mouse or keyboard."
        ),
        "control_refused": _(
            "Remote control was not switched on in your desktop's sharing window: the technician "
            "can see your screen but cannot use your mouse or keyboard."
        ),
        "control_at_start": _(
            "On this desktop remote control can only be allowed when a session starts: the "
            "technician can start a new session to ask for it."
        ),
        "portal_cancelled": _("Screen sharing was cancelled in your desktop's sharing window."),
        "portal_failed": _("Your desktop refused to share the screen. Please try again."),
        "no_gstreamer": _(
            "Screen sharing on this desktop needs GStreamer's PipeWire support, which is not "
            "installed. Ask your IT department to install it."
        ),
        "no_overlay": _(
            "The technician's drawings cannot appear on this desktop; they show only on the "
            "technician's screen."
        ),
        "no_stop_key": _(
            "This desktop has no emergency key for veo: to stop the session, press Stop on the veo bar."
        ),
    }
    if reason == "no_gstreamer" and getattr(sys, "frozen", False):
        # the one-file agent carries its own GStreamer: installing the system's would change nothing
        return _(
            "Screen sharing could not start on this desktop: this copy of veo may be damaged, or "
            "it does not support this desktop. Download veo again, or share your screen from your "
            'web browser instead ("Share my screen from this browser" on the support page), or '
            'log in to an X11 session (such as "GNOME on Xorg") and start veo again.'
        )
    return texts[reason]
