"""The Wayland backend: the desktop's xdg-desktop-portal (RemoteDesktop + ScreenCast).

``bus`` talks to the portal (dbus-fast, part of the ``agent`` extra); ``desktop`` is the session's
:class:`veo.agent.desktop.Desktop` for it. Frames need GStreamer through PyGObject (the
``wayland`` extra), imported only when a capture starts, so an X11 user never needs them.
"""
