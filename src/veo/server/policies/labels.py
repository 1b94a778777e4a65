"""Translated names of roles and capabilities, for pages and the CLI."""

from __future__ import annotations

from veo.server.lang import _


def role_label(role: str) -> str:
    labels = {"admin": _("Administrator"), "lead": _("Lead"), "technician": _("Technician")}
    return labels.get(role, role)


def capability_label(name: str) -> str:
    labels = {
        "view": _("view screen"),
        "control": _("control mouse and keyboard"),
        "clipboard": _("clipboard"),
        "files": _("file transfer"),
        "unattended": _("unattended access (managed devices)"),
        "recording": _("session recording"),
    }
    return labels.get(name, name)
