"""The technician's side, driven like a technician: pages, the console, its video and input.

Two things here look at the page from outside the product on purpose:

* ``video_rgb`` draws the ``<video>`` element's current frame on a canvas and reads pixels, which
  proves that decoded frames show the agent's display;
* ``CHANNEL_SPY`` (an init script) keeps a reference to the data channel the agent opens, so a
  test can act as a misbehaving console and send input the console itself would never send.
  The agent, not the console, must refuse it; that is what those tests check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from .procs import Logs, WaitTimeout, wait_for
from .stack import TECH_EMAIL, TECH_PASSWORD

CHANNEL_SPY = """
(() => {
  const Native = window.RTCPeerConnection;
  if (!Native || window.__e2eChannels) return;
  window.__e2eChannels = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("datachannel", (event) => window.__e2eChannels.push(event.channel));
    }
  };
})();
"""

_VIDEO_GEOMETRY = """
([sx, sy]) => {
  const video = document.querySelector("#remote-video");
  const vw = video.videoWidth, vh = video.videoHeight;
  if (!vw || !vh) return null;
  const screen = (window.veoConsole && window.veoConsole.screen) || {};
  const sw = screen.width || vw, sh = screen.height || vh;
  const box = video.getBoundingClientRect();
  const fit = getComputedStyle(video).objectFit || "contain";
  let scaleX, scaleY;
  if (fit === "fill") { scaleX = box.width / vw; scaleY = box.height / vh; }
  else { scaleX = scaleY = Math.min(box.width / vw, box.height / vh); }
  const offX = (box.width - vw * scaleX) / 2, offY = (box.height - vh * scaleY) / 2;
  const vx = sx * vw / sw, vy = sy * vh / sh;
  return {vx, vy, vw, vh, sw, sh, px: box.left + offX + vx * scaleX, py: box.top + offY + vy * scaleY};
}
"""

_VIDEO_RGB = """
([vx, vy, radius]) => {
  const video = document.querySelector("#remote-video");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(video, 0, 0);
  const x0 = Math.max(0, Math.round(vx - radius)), y0 = Math.max(0, Math.round(vy - radius));
  const data = ctx.getImageData(x0, y0, 2 * radius + 1, 2 * radius + 1).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += 4) {
    sum[0] += data[i]; sum[1] += data[i + 1]; sum[2] += data[i + 2];
  }
  const n = data.length / 4;
  return sum.map((v) => Math.round(v / n));
}
"""


class ConsoleWaits:
    """The console's waits, the same whatever drives the browser (Playwright's Chromium here,
    WebDriver BiDi's Firefox in ``firefox_console.py``): a driver supplies the readings
    (states, SAS, diagnostics, a video pixel) and the *Codes match* click, these wait on them."""

    logs: Logs

    def conn_state(self) -> str | None:
        raise NotImplementedError

    def control_state(self) -> str | None:
        raise NotImplementedError

    def diagnostics(self) -> str:
        raise NotImplementedError

    def sas(self) -> str:
        raise NotImplementedError

    def video_rgb(self, x: int, y: int, radius: int = 4) -> tuple[int, int, int] | None:
        raise NotImplementedError

    def _click_codes_match(self) -> None:
        raise NotImplementedError

    def _codes_confirmed(self) -> bool:
        raise NotImplementedError

    def wait_conn_state(self, state: str, timeout: float = 60.0) -> None:
        wait_for(
            f"#conn-state[data-state={state}]",
            lambda: self.conn_state() == state,
            timeout,
            self.logs,
            self.diagnostics,
        )

    def wait_control_state(self, state: str, timeout: float = 30.0) -> None:
        wait_for(
            f"#control-state[data-state={state}]",
            lambda: self.control_state() == state,
            timeout,
            self.logs,
            self.diagnostics,
        )

    def confirm_codes_match(self) -> None:
        """The technician heard the user read back the same code: click *Codes match*."""
        wait_for("#sas-code to show the SAS", lambda: len(self.sas()) == 6, 60, self.logs, self.diagnostics)
        self._click_codes_match()
        wait_for("the server to record *Codes match*", self._codes_confirmed, 30, self.logs, self.diagnostics)

    def wait_video_colour(
        self,
        x: int,
        y: int,
        rgb: tuple[int, int, int],
        tolerance: int,
        timeout: float = 60.0,
        nudge: Callable[[], object] | None = None,
    ) -> None:
        """Wait until the video shows ``rgb`` at a screen point.

        ``nudge`` runs before each look: a sender that sends only on change (Chromium's screen
        capture) may have stopped on a frame taken before the picture settled, and a real screen
        never stays still that long (pointer, clock), so the test makes it change a little.
        """
        seen: list[tuple[int, int, int] | None] = [None]

        def probe() -> bool:
            if nudge is not None:
                nudge()
            seen[0] = self.video_rgb(x, y)
            return seen[0] is not None and all(
                abs(a - b) <= tolerance for a, b in zip(seen[0], rgb, strict=True)
            )

        wait_for(
            f"the video to show rgb{rgb} (±{tolerance}) at screen ({x}, {y})",
            probe,
            timeout,
            self.logs,
            lambda: f"rgb={seen[0]} {self.diagnostics()}",
        )


class Console(ConsoleWaits):
    """One technician page: login, ticket, session start, and the console during a session."""

    def __init__(self, page: Page, base_url: str, logs: Logs) -> None:
        self.page = page
        self.base_url = base_url
        self.logs = logs

    # ------------------------------------------------------------------ pages before the session

    def login(self, email: str = TECH_EMAIL, password: str = TECH_PASSWORD) -> None:
        self.page.goto(f"{self.base_url}/login")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", password)
        with self.page.expect_navigation():
            self.page.locator("form:has(input[name=password]) [type=submit]").first.click()
        if "/login" in self.page.url:
            raise AssertionError(f"login failed, still on {self.page.url}:\n{self._text()[:800]}")

    def create_ticket(self, title: str) -> int:
        self.page.goto(f"{self.base_url}/tickets/new")
        self.page.fill("[name=title]", title)
        self.page.fill("[name=description]", "The printer button does nothing; please have a look.")
        self.page.fill("[name=requester_name]", "María Usuaria")
        self.page.fill("[name=requester_email]", "maria@example.com")
        with self.page.expect_navigation():
            self.page.locator("form:has([name=title]) [type=submit]").first.click()
        match = re.search(r"/tickets/(\d+)", self.page.url)
        if match is None:
            raise AssertionError(
                f"creating a ticket did not lead to its page ({self.page.url}):\n{self._text()[:800]}"
            )
        return int(match.group(1))

    def start_session(self, ticket_id: int, untick: tuple[str, ...] = (), tick: tuple[str, ...] = ()) -> str:
        """Press *Start remote session* on the ticket page (after unticking ``untick`` and ticking
        ``tick`` permissions); return the session id of the console."""
        self.page.goto(f"{self.base_url}/tickets/{ticket_id}")
        for permission in tick:
            self.page.check(f"#start-session-form input[name=permissions][value={permission}]")
        for permission in untick:
            self.page.uncheck(f"#start-session-form input[name=permissions][value={permission}]")
        with self.page.expect_navigation():
            self.page.click("#start-session")
        match = re.search(r"/sessions/([^/]+)/console", self.page.url)
        if match is None:
            raise AssertionError(
                f"#start-session did not open a console ({self.page.url}):\n{self._text()[:800]}"
            )
        return match.group(1)

    def session_code(self) -> str:
        code = "".join(ch for ch in (self.page.text_content("#session-code") or "") if ch.isdigit())
        if len(code) != 9:
            raise AssertionError(
                f"#session-code does not hold 9 digits: {self.page.text_content('#session-code')!r}"
            )
        return code

    # ------------------------------------------------------------------ console state

    def conn_state(self) -> str | None:
        return self.page.get_attribute("#conn-state", "data-state")

    def control_state(self) -> str | None:
        return self.page.get_attribute("#control-state", "data-state")

    def diagnostics(self) -> str:
        try:
            state: Any = self.page.evaluate("() => JSON.stringify(window.veoConsole || null)")
            banner = (
                self.page.text_content("#error-banner") if self.page.query_selector("#error-banner") else None
            )
        except PlaywrightError as exc:
            return f"(page not readable: {exc})"
        return (
            f"conn-state={self.conn_state()} control-state={self.control_state()} "
            f"veoConsole={state} error-banner={banner!r}"
        )

    def sas(self) -> str:
        return "".join(ch for ch in (self.page.text_content("#sas-code") or "") if ch.isdigit())

    def _click_codes_match(self) -> None:
        self.page.click("#sas-match")

    def _codes_confirmed(self) -> bool:
        return self.page.is_visible("#sas-confirmed")

    # ------------------------------------------------------------------ the remote screen

    def _geometry(self, x: int, y: int) -> dict[str, float] | None:
        result: dict[str, float] | None = self.page.evaluate(_VIDEO_GEOMETRY, [x, y])
        return result

    def video_rgb(self, x: int, y: int, radius: int = 4) -> tuple[int, int, int] | None:
        """Mean colour around remote-screen point (x, y) in the frame the video shows now."""
        geometry = self._geometry(x, y)
        if geometry is None:
            return None
        r, g, b = self.page.evaluate(_VIDEO_RGB, [geometry["vx"], geometry["vy"], radius])
        return int(r), int(g), int(b)

    def page_point(self, x: int, y: int) -> tuple[float, float]:
        """Where on the page remote-screen point (x, y) is shown (for drags and hovers)."""
        geometry = self._geometry(x, y)
        if geometry is None:
            raise WaitTimeout(f"the video has no frame yet\n{self.diagnostics()}\n{self.logs.report()}")
        return geometry["px"], geometry["py"]

    def click_screen(self, x: int, y: int) -> None:
        """A technician's click on the video where remote-screen point (x, y) is shown."""
        self.page.locator("#remote-video").scroll_into_view_if_needed()
        geometry = self._geometry(x, y)
        if geometry is None:
            raise WaitTimeout(
                f"the video has no frame to click on\n{self.diagnostics()}\n{self.logs.report()}"
            )
        self.page.mouse.move(geometry["px"], geometry["py"])
        self.page.mouse.click(geometry["px"], geometry["py"])

    def open_tool(self, tool: str) -> None:
        """Show a tab of the console's tools panel (chat, files, clipboard, sysinfo, session, notes)."""
        self.page.click(f"#tab-{tool}")

    def type_text(self, text: str) -> None:
        self.page.focus("#remote-input")  # the input layer over the video takes the keys
        self.page.keyboard.type(text, delay=30)

    # ------------------------------------------------------------------ acting as a rogue console

    def inject_raw(self, message: dict[str, Any]) -> None:
        """Send ``message`` straight into the agent's data channel, bypassing the console's rules."""
        sent = self.page.evaluate(
            """(msg) => {
                 const ch = (window.__e2eChannels || [])
                   .filter((c) => c.readyState === "open" && c.label === "veo").at(-1);
                 if (!ch) return false;
                 ch.send(JSON.stringify({v: 1, ...msg}));
                 return true;
               }""",
            message,
        )
        if not sent:
            raise AssertionError(f"no open data channel to inject into\n{self.diagnostics()}")

    def _text(self) -> str:
        try:
            return self.page.inner_text("body")
        except PlaywrightError:
            return ""
