"""The consent dialog: who asks, for which ticket, for what; the SAS; Allow or Deny.

It opens as soon as the server confirmed the code, so the user reads who is asking while
WebRTC is still negotiating; Allow stays disabled until the verification code is known,
because pressing Allow under the code IS the user's confirmation that the technician read the
same code (the dialog says so). "The codes differ" ends the session as suspected interception.
Each requested permission is a checkbox the user
may untick; only what was requested is shown.

Beside the organization's name (which is the server's word) the dialog names the host this
connection reaches, as TLS verified it (:class:`ConnectedServer`), and the warning asks the user
to check it: a downloaded copy of veo can name anybody's server, a certificate cannot.

On a managed computer whose group's policy is *ask* (issue 17, ``agent/device_mode.py``) the
device's own service opened the dialog, not a code the user typed: it says that this computer is
managed by the organization and the reason given, and the code is shown as information (the
device and the technician are authenticated to the server; nobody needs to read it aloud).
Nothing starts without Allow, as always.
"""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from veo.agent.device_mode import DeviceContext
from veo.agent.ui.common import PAD, Fonts, GeometryReporter, open_window, place
from veo.protocol import sas as sas_mod
from veo.protocol.permissions import Permission, ordered
from veo.protocol.signaling import Joined

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectedServer:
    """Where the agent is connected, as the connection itself says (never as the server says).

    ``verified``: TLS checked the certificate chain and that it was issued for ``host``
    (``signaling.WebSocketChannel.verified_host``); otherwise a plain ``ws://`` connection, which
    the agent accepts for this computer only (``urls.py``).
    """

    host: str
    verified: bool


def server_line(_: Callable[[str], str], server: ConnectedServer) -> str:
    """The consent dialog's sentence about the connection it is on."""
    if server.verified:
        return _("Connected to {host} (its certificate was checked).").format(host=server.host)
    return _("Connected to this computer ({host}), without encryption: for tests only.").format(
        host=server.host
    )


def warning_text(_: Callable[[str], str], server: ConnectedServer | None, organization: str) -> str:
    """The red warning: check the address, and that the user asked for help."""
    if server is not None and server.verified:
        return _(
            "Only continue if {host} is the address of {organization} and you asked them for help. "
            "Nobody from {organization} will contact you unexpectedly to ask for access to your computer."
        ).format(host=server.host, organization=organization)
    return _(
        "Only continue if you asked {organization} for help. Nobody from {organization} "
        "will contact you unexpectedly to ask for access to your computer."
    ).format(organization=organization)


def managed_lines(_: Callable[[str], str], organization: str, device: DeviceContext) -> tuple[str, str]:
    """The managed-computer line and the reason, for the *ask* dialog of a device session."""
    return (
        _(
            "This is a managed computer of {organization}: its support can ask to connect without a code."
        ).format(organization=organization),
        _("Reason: {reason}").format(reason=device.reason),
    )


def managed_warning(_: Callable[[str], str]) -> str:
    """The red line of the *ask* dialog on a managed computer: nothing happens without Allow."""
    return _("Nothing starts unless you press Allow. If you do not expect this help, press Deny.")


def managed_code_text(_: Callable[[str], str]) -> str:
    """Under the code on a managed computer: information, not a comparison the user must make."""
    return _(
        "The technician sees the same code. On a managed computer you do not need to compare it; "
        "if you compare it on the phone and it differs, press \u201cThe codes differ\u201d."
    )


#: permissions this agent can honour, with the widget name the tests look for
def permission_labels(_: Callable[[str], str]) -> dict[Permission, str]:
    """What each permission lets the technician do, in the user's words: the consent dialog's
    boxes and the mid-session question's (``ui/asking.py``) say the same (one translation each)."""
    return {
        Permission.VIEW: _("See my screen"),
        Permission.CONTROL: _("Control my mouse and keyboard"),
        Permission.CLIPBOARD: _("Read and change my clipboard (copied text)"),
        Permission.FILES: _("Send files to me and receive files I choose"),
    }


def permission_boxes(
    frame: tk.Frame,
    window: tk.Toplevel,
    fonts: Fonts,
    gettext: Callable[[str], str],
    permissions: Iterable[Permission],
    on_change: Callable[[], None],
) -> tuple[dict[Permission, tk.BooleanVar], dict[str, tk.Widget]]:
    """One ticked box per permission, in display order, that the user may untick.

    The consent dialog and the mid-session question show the same boxes; the widgets are keyed
    ``perm_<permission>`` for the geometry the agent logs (tests click them there).
    """
    labels = permission_labels(gettext)
    ticks: dict[Permission, tk.BooleanVar] = {}
    widgets: dict[str, tk.Widget] = {}
    for permission in ordered(permissions):
        var = tk.BooleanVar(master=window, value=True)
        box = tk.Checkbutton(
            frame, text=labels[permission], variable=var, font=fonts.body, command=on_change, anchor="w"
        )
        box.pack(anchor="w", padx=(PAD, 0))
        ticks[permission] = var
        widgets[f"perm_{permission.value}"] = box
    return ticks, widgets


class ConsentDialog:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        joined: Joined,
        on_allow: Callable[[list[Permission]], None],
        on_deny: Callable[[], None],
        on_mismatch: Callable[[], None],
        desktop_asks_too: bool = False,
        server: ConnectedServer | None = None,
        device: DeviceContext | None = None,
    ) -> None:
        """``device``: a managed computer's *ask* session (only ever from the device's service)."""
        _ = gettext
        self._ = gettext
        self._on_allow = on_allow
        self._on_deny = on_deny
        self._on_mismatch = on_mismatch
        self._sas_known = False
        org = joined.organization
        self.window, frame = open_window(root, _("Remote support request"), self._deny, pad=PAD + 6)
        wrap = 720  # wide rather than tall: it must fit a 1366x768 screen below its panels

        tk.Label(
            frame,
            text=_("{technician} from {organization} wants to connect to this computer").format(
                technician=joined.technician_name, organization=org
            ),
            font=fonts.title,
            wraplength=wrap,
            justify="left",
        ).pack(anchor="w")
        tk.Label(
            frame,
            text=_("Ticket #{number}: {title}").format(number=joined.ticket_id, title=joined.ticket_title),
            font=fonts.body,
            wraplength=wrap,
            justify="left",
        ).pack(anchor="w", pady=(PAD // 2, PAD if server is None else PAD // 2))
        self.server_label: tk.Label | None = None
        if server is not None:  # beside the organization's name: where this computer is connected
            self.server_label = tk.Label(
                frame,
                text=server_line(_, server),
                font=fonts.body,
                fg="#204a87" if server.verified else "#a40000",
                wraplength=wrap,
                justify="left",
            )
            self.server_label.pack(anchor="w", pady=(0, PAD))
            log.info("consent dialog shows the server %s (verified: %s)", server.host, server.verified)
        if device is not None:  # why nobody read a code: the device's service opened this dialog
            managed, why = managed_lines(_, org, device)
            for text, font in ((managed, fonts.body), (why, fonts.bold)):
                tk.Label(frame, text=text, font=font, fg="#204a87", wraplength=wrap, justify="left").pack(
                    anchor="w"
                )
            tk.Frame(frame, height=PAD).pack()
            log.info("consent dialog for a managed computer (policy ask)")

        tk.Label(frame, text=_("Allow the technician to:"), font=fonts.bold).pack(anchor="w")
        self._ticks, self.widgets = permission_boxes(
            frame, self.window, fonts, gettext, joined.requested, self._update_allow
        )

        self.warning = tk.Label(
            frame,
            text=warning_text(_, server, org) if device is None else managed_warning(_),
            font=fonts.bold,
            fg="#a40000",
            wraplength=wrap,
            justify="left",
        )
        self.warning.pack(anchor="w", pady=(PAD, PAD))

        self.sas_label = tk.Label(
            frame, text=_("Verification code: connecting…"), font=fonts.title, wraplength=wrap, justify="left"
        )
        self.sas_label.pack(anchor="w")
        compare = _(
            "Ask the technician to read you their code. Press Allow only if it is the same code; "
            "if it differs, press \u201cThe codes differ\u201d."
        )
        tk.Label(
            frame,
            text=compare if device is None else managed_code_text(_),
            font=fonts.body,
            wraplength=wrap,
            justify="left",
        ).pack(anchor="w", pady=(0, PAD))
        if desktop_asks_too:  # Wayland: the desktop's own window follows; say so before it surprises
            note = tk.Label(
                frame,
                text=_(
                    "After you press Allow, your desktop asks you too, in its own window: choose Share there."
                )
                + (
                    " "
                    + _(
                        "To let the technician use your mouse and keyboard, also switch on remote "
                        "interaction in that window."
                    )
                    if Permission.CONTROL in joined.requested
                    else ""
                ),
                font=fonts.body,
                wraplength=wrap,
                justify="left",
            )
            note.pack(anchor="w", pady=(0, PAD))
            self.widgets["desktop_note"] = note

        buttons = tk.Frame(frame)
        buttons.pack(fill="x", pady=(PAD, 0))
        self.deny = tk.Button(buttons, text=_("Deny"), font=fonts.bold, command=self._deny, padx=PAD)
        self.deny.pack(side="right")
        self.allow = tk.Button(
            buttons, text=_("Allow"), font=fonts.bold, command=self._allow, padx=PAD, state="disabled"
        )
        self.allow.pack(side="right", padx=(0, PAD))
        self.differ = tk.Button(
            buttons,
            text=_("The codes differ"),
            font=fonts.body,
            command=self._differ,
            padx=PAD,
            state="disabled",
        )
        self.differ.pack(side="left")
        self.widgets["allow"] = self.allow
        self.widgets["sas_differ"] = self.differ
        self.widgets["deny"] = self.deny
        place(self.window)
        self.geometry = GeometryReporter(self.window, "consent", self.widgets)

    def ticked(self) -> list[Permission]:
        return [p for p, var in self._ticks.items() if var.get()]

    def _update_allow(self) -> None:
        ready = self._sas_known and Permission.VIEW in self.ticked()
        was_ready = str(self.allow["state"]) == "normal"
        self.allow.configure(state="normal" if ready else "disabled")
        if ready != was_ready:
            # Said in the log so that whoever watches the screen (a test, a support script) knows
            # when a click on Allow can take effect.
            log.info("consent allow %s", "enabled" if ready else "disabled")

    def show_sas(self, code: str) -> None:
        self._sas_known = True
        self.sas_label.configure(text=self._("Verification code: {code}").format(code=sas_mod.display(code)))
        self.differ.configure(state="normal")
        # The code may have re-laid the dialog out: its rectangles are logged (if they changed)
        # before "consent allow enabled", so whoever reads the log to click Allow on that line
        # finds where Allow is without waiting to see whether a new layout comes. A window
        # manager's own resize still re-logs later (<Configure>).
        self.geometry.report()
        self._update_allow()

    def _allow(self) -> None:
        if str(self.allow["state"]) == "disabled":
            return
        self.allow.configure(state="disabled")
        self.deny.configure(state="disabled")
        self._on_allow(self.ticked())

    def _deny(self) -> None:
        self._disable_all()
        self._on_deny()

    def _differ(self) -> None:
        if str(self.differ["state"]) == "disabled":
            return
        self._disable_all()
        self._on_mismatch()

    def _disable_all(self) -> None:
        for button in (self.allow, self.deny, self.differ):
            button.configure(state="disabled")

    def close(self) -> None:
        self.window.destroy()
