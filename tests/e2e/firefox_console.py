"""The technician's console in firefox-esr: the same steps as ``console.Console``, over BiDi.

``flow.start_session`` drives either one (it needs ``create_ticket``, ``start_session``,
``wait_conn_state``, ``session_code`` and ``confirm_codes_match``). The forms are filled by
script (what is tested here is the console, not typing into a login form); clicks on the remote
video and typing go through real BiDi input, as a technician's mouse and keyboard do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from .console import _VIDEO_GEOMETRY, _VIDEO_RGB, ConsoleWaits
from .firefox import BidiError, Firefox
from .procs import Logs, WaitTimeout, wait_for
from .stack import TECH_EMAIL, TECH_PASSWORD

T = TypeVar("T")

_FILL_AND_SUBMIT = """(fields, submit) => {
  for (const [selector, value] of Object.entries(fields)) {
    const el = document.querySelector(selector);
    if (!el) throw new Error(`no ${selector} on ${location.pathname}`);
    el.value = value;
    el.dispatchEvent(new Event("input", {bubbles: true}));
  }
  const button = document.querySelector(submit);
  if (!button) throw new Error(`no ${submit} on ${location.pathname}`);
  setTimeout(() => button.click(), 0);  // the page goes away: answer first
  return true;
}"""


class FirefoxConsole(ConsoleWaits):
    """One technician in Firefox: login, ticket, session start, the console during a session."""

    def __init__(self, firefox: Firefox, base_url: str, logs: Logs) -> None:
        self.ff = firefox
        self.base_url = base_url
        self.logs = logs

    def _maybe(self, probe: Callable[[], T]) -> T | None:
        """``probe()``, or None while the page is between two documents."""
        try:
            return probe()
        except BidiError:
            return None

    def _wait_url(self, pattern: str, what: str) -> re.Match[str]:
        def probe() -> re.Match[str] | None:
            url = self._maybe(self.ff.url)
            ready = self._maybe(lambda: self.ff.call("() => document.readyState === 'complete'"))
            return re.search(pattern, url) if url and ready else None

        return wait_for(what, probe, 30, self.logs, lambda: f"url={self._maybe(self.ff.url)}")

    def _submit(self, fields: dict[str, str], submit: str) -> None:
        self.ff.call(_FILL_AND_SUBMIT, fields, submit)

    # ------------------------------------------------------------------ pages before the session

    def login(self, email: str = TECH_EMAIL, password: str = TECH_PASSWORD) -> None:
        self.ff.navigate(f"{self.base_url}/login")
        self._submit(
            {"input[name=email]": email, "input[name=password]": password},
            "form:has(input[name=password]) [type=submit]",
        )
        self._wait_url(r"^(?!.*/login)", "the login to leave /login")

    def create_ticket(self, title: str) -> int:
        self.ff.navigate(f"{self.base_url}/tickets/new")
        self._submit(
            {
                "[name=title]": title,
                "[name=description]": "The printer button does nothing; please have a look.",
                "[name=requester_name]": "María Usuaria",
                "[name=requester_email]": "maria@example.com",
            },
            "form:has([name=title]) [type=submit]",
        )
        return int(self._wait_url(r"/tickets/(\d+)", "the new ticket's page").group(1))

    def start_session(self, ticket_id: int, untick: tuple[str, ...] = (), tick: tuple[str, ...] = ()) -> str:
        """Press *Start remote session* on the ticket page; return the console's session id."""
        self.ff.navigate(f"{self.base_url}/tickets/{ticket_id}")
        self.ff.call(
            """(tick, untick) => {
                 const box = (p) => document.querySelector(
                   `#start-session-form input[name=permissions][value=${p}]`);
                 for (const p of tick) box(p).checked = true;
                 for (const p of untick) box(p).checked = false;
                 setTimeout(() => document.querySelector("#start-session").click(), 0);
               }""",
            list(tick),
            list(untick),
        )
        return self._wait_url(r"/sessions/([^/]+)/console", "#start-session to open a console").group(1)

    def session_code(self) -> str:
        text = str(self.ff.call("() => document.querySelector('#session-code').textContent"))
        code = "".join(ch for ch in text if ch.isdigit())
        if len(code) != 9:
            raise AssertionError(f"#session-code does not hold 9 digits: {text!r}")
        return code

    # ------------------------------------------------------------------ console state

    def _attribute(self, selector: str, name: str) -> str | None:
        value = self._maybe(
            lambda: self.ff.call(
                "(s, n) => { const e = document.querySelector(s); return e ? e.getAttribute(n) : null; }",
                selector,
                name,
            )
        )
        return None if value is None else str(value)

    def text(self, selector: str) -> str:
        value = self._maybe(
            lambda: self.ff.call(
                "(s) => { const e = document.querySelector(s); return e ? e.innerText : ''; }", selector
            )
        )
        return str(value or "")

    def conn_state(self) -> str | None:
        return self._attribute("#conn-state", "data-state")

    def control_state(self) -> str | None:
        return self._attribute("#control-state", "data-state")

    def diagnostics(self) -> str:
        state = self._maybe(lambda: self.ff.call("() => JSON.stringify(window.veoConsole || null)"))
        return (
            f"conn-state={self.conn_state()} control-state={self.control_state()} "
            f"veoConsole={state} error-banner={self.text('#error-banner')!r}"
        )

    def sas(self) -> str:
        return "".join(ch for ch in self.text("#sas-code") if ch.isdigit())

    def _click_codes_match(self) -> None:
        self.ff.call("() => document.querySelector('#sas-match').click()")

    def _codes_confirmed(self) -> bool:
        return bool(
            self._maybe(lambda: self.ff.call("() => !document.querySelector('#sas-confirmed').hidden"))
        )

    # ------------------------------------------------------------------ the remote screen

    def geometry(self, x: float, y: float) -> dict[str, float] | None:
        """Where remote-screen point (x, y) is in the video frame and on the page."""
        result: dict[str, float] | None = self.ff.call(_VIDEO_GEOMETRY, [x, y])
        return result

    def video_rgb(self, x: int, y: int, radius: int = 4) -> tuple[int, int, int] | None:
        geometry = self._maybe(lambda: self.geometry(x, y))
        if geometry is None:
            return None
        r, g, b = self.ff.call(_VIDEO_RGB, [geometry["vx"], geometry["vy"], radius])
        return int(r), int(g), int(b)

    def click_screen(self, x: int, y: int) -> None:
        """A technician's click on the video where remote-screen point (x, y) is shown."""
        geometry = self.geometry(x, y)
        if geometry is None:
            raise WaitTimeout(
                f"the video has no frame to click on\n{self.diagnostics()}\n{self.logs.report()}"
            )
        self.ff.click(geometry["px"], geometry["py"])

    def type_text(self, text: str) -> None:
        """Keys to the remote screen: its input layer takes the focus (the video itself, before it)."""
        self.ff.call(
            "() => (document.getElementById('remote-input') ?? document.getElementById('remote-video'))"
            ".focus()"
        )
        self.ff.type_text(text)
