"""The prompt that compares the code again after a connection came back without proof.

The connection to the technician was lost and a new one was made, but the technician's side
could not prove it is the same browser as before (another browser, or a page that lost its
memory). Until the user and the technician read the same new code to each other, nothing is
shown and nothing is done on this computer. The new code is big, as on the consent dialog;
"The codes match" lets the session go on as before (the grant is unchanged), "The codes differ"
ends it as suspected interception. Closing the window is *The codes differ*: a question about
safety must not be answered "yes" by default. Geometry is logged as ``ui-geometry reverify
{...}`` (``code_match``, ``code_differ``) for the end-to-end tests.
"""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable

from veo.agent.ui.asking import place_below
from veo.agent.ui.common import PAD, Fonts, GeometryReporter, open_window
from veo.protocol import sas as sas_mod

log = logging.getLogger(__name__)

WRAP = 540


class ReverifyPrompt:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        *,
        technician: str,
        code: str,
        on_match: Callable[[], None],
        on_differ: Callable[[], None],
        below: int = 0,
    ) -> None:
        """``below``: the screen row under the session bar, so the prompt never covers *Stop*."""
        _ = gettext
        self._ = gettext
        self._on_match = on_match
        self._on_differ = on_differ
        self._answered = False
        self.window, frame = open_window(root, _("Check the code again"), self._differ)
        tk.Label(
            frame,
            text=_("The connection to {technician} came back. Please check the code again.").format(
                technician=technician
            ),
            font=fonts.title,
            wraplength=WRAP,
            justify="left",
        ).pack(anchor="w")
        tk.Label(
            frame,
            text=_(
                "The technician's side could not prove that it is the same as before. Until you "
                "both compare this new code, the technician sees nothing and cannot control anything."
            ),
            font=fonts.body,
            wraplength=WRAP,
            justify="left",
        ).pack(anchor="w", pady=(PAD // 2, PAD))
        tk.Label(frame, text=_("New verification code:"), font=fonts.bold).pack(anchor="w")
        self.code_label = tk.Label(frame, text=sas_mod.display(code), font=fonts.code)
        self.code_label.pack(anchor="w", pady=(0, PAD))
        tk.Label(
            frame,
            text=_(
                "Ask the technician to read you their new code. Press \u201cThe codes match\u201d only "
                "if it is the same code; if it differs, press \u201cThe codes differ\u201d and the "
                "session ends."
            ),
            font=fonts.body,
            wraplength=WRAP,
            justify="left",
        ).pack(anchor="w")
        buttons = tk.Frame(frame)
        buttons.pack(fill="x", pady=(PAD, 0))
        self.match = tk.Button(
            buttons, text=_("The codes match"), font=fonts.bold, command=self._match, padx=PAD
        )
        self.match.pack(side="right")
        self.differ = tk.Button(
            buttons, text=_("The codes differ"), font=fonts.body, command=self._differ, padx=PAD
        )
        self.differ.pack(side="left")
        self.waiting = tk.Label(
            frame, text="", font=fonts.body, fg="#444444", wraplength=WRAP, justify="left"
        )
        place_below(self.window, below)
        self.geometry = GeometryReporter(
            self.window, "reverify", {"code_match": self.match, "code_differ": self.differ}
        )

    def _match(self) -> None:
        if self._answered:
            return
        self._answer("match")
        self.waiting.configure(text=self._("Waiting for the technician to confirm the code too…"))
        self.waiting.pack(anchor="w", pady=(PAD // 2, 0))
        self.geometry.relayout()
        self._on_match()

    def _differ(self) -> None:
        if self._answered:
            return
        self._answer("differ")
        self._on_differ()

    def _answer(self, what: str) -> None:
        self._answered = True
        for button in (self.match, self.differ):
            button.configure(state="disabled")
        log.info("reverify prompt answered: %s", what)

    def close(self) -> None:
        self.window.destroy()
