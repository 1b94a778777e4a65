"""Debian's firefox-esr, headless inside the test namespace, driven over WebDriver BiDi.

Why not Playwright: its Firefox is a patched build of its own (a download, which these machines
cannot make and the project never does). Why not Selenium: it drives Firefox through geckodriver,
which Debian does not package. Firefox speaks WebDriver BiDi itself on
``--remote-debugging-port``, so a small client over ``websockets`` covers what the tests need:
a session, navigation, running a script, pointer and key input, screenshots.

Firefox's ICE inside the test namespace: for a page without camera permission it gathers host
candidates only on the interface of the default route, and the suite's namespace has no route
at all, so Firefox offered no candidate (measured: none after 5 s; with a route, 10.99.0.1 at
once; ``media.peerconnection.ice.default_address_only`` false did not change it).
:func:`default_route` gives the namespace one through the veth pair (both ends are inside it,
so still nothing can leave). ``PREFS`` (the profile's ``user.js``) turn off the mDNS names that
aioice cannot resolve and keep the browser from calling home. That is the test's set-up, as
``--disable-features=WebRtcHideLocalIpsWithMdns`` is for Chromium: veo asks nothing of it.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from .netns import ADDRESSES, NetworkNamespace
from .procs import LoggedProcess, Logs, wait_for

FIREFOX = "/usr/bin/firefox-esr"
BIDI_PORT = 9222  # inside the test namespace: nothing else listens there
LISTENING = "WebDriver BiDi listening on "

#: user.js of the throwaway profile
PREFS: dict[str, object] = {
    # ICE: plain host addresses (not "<uuid>.local"), no camera permission prompt
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.navigator.permission.disabled": True,
    # the remote video plays without a user gesture (it is muted anyway)
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    # offline: no updates, no plug-in (OpenH264) downloads, no telemetry or remote settings
    "app.update.auto": False,
    "media.gmp-manager.updateEnabled": False,
    "media.gmp-gmpopenh264.autoupdate": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.aboutwelcome.enabled": False,
}


@contextlib.contextmanager
def default_route(netns: NetworkNamespace) -> Iterator[None]:
    """A default route via the namespace's own veth pair while Firefox runs (see above)."""
    gateway = ADDRESSES[1].split("/")[0]
    route = ["ip", "-n", netns.name, "route", "replace", "default", "via", gateway, "dev", "v0"]
    subprocess.run(route, check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(["ip", "-n", netns.name, "route", "del", "default"], check=False, capture_output=True)


class BidiError(AssertionError):
    """A BiDi command failed, or the page's script threw."""


def _user_js(prefs: dict[str, object]) -> str:
    return "".join(f"user_pref({json.dumps(name)}, {json.dumps(value)});\n" for name, value in prefs.items())


class Firefox:
    """One headless firefox-esr in ``netns`` with a fresh profile, and its BiDi session.

    Coordinates are CSS pixels of the viewport, as the page's ``getBoundingClientRect`` gives them.
    """

    def __init__(
        self,
        netns: NetworkNamespace,
        workdir: Path,
        logs: Logs,
        viewport: tuple[int, int] = (1600, 1000),
    ) -> None:
        self.profile = workdir / "firefox-profile"
        shutil.rmtree(self.profile, ignore_errors=True)
        self.profile.mkdir(parents=True)
        (self.profile / "user.js").write_text(_user_js(PREFS))
        (workdir / "firefox.log").unlink(missing_ok=True)  # an old "listening" line would mislead
        home = workdir / "firefox-home"
        home.mkdir(exist_ok=True)
        env = {"HOME": str(home), "MOZ_HEADLESS": "1", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        self.process = logs.add(
            LoggedProcess(
                "firefox-esr",
                netns.command(
                    [
                        FIREFOX,
                        "--headless",
                        "--no-remote",
                        "--profile",
                        str(self.profile),
                        "--remote-debugging-port",
                        str(BIDI_PORT),
                        "about:blank",
                    ]
                ),
                workdir / "firefox.log",
                env=env,
            )
        )
        self.logs = logs
        self._ids = itertools.count(1)
        self._connection = ExitStack()
        try:
            self._start(netns, viewport)
        except BaseException:
            self.close()
            raise

    def _start(self, netns: NetworkNamespace, viewport: tuple[int, int]) -> None:
        url = wait_for("firefox-esr to listen for WebDriver BiDi", self._bidi_url, 60, self.logs)
        # the socket must be made inside the namespace, where Firefox listens on 127.0.0.1
        self._ws: ClientConnection = netns.run_inside(
            lambda: self._connection.enter_context(connect(f"{url}/session", max_size=None))
        )
        capabilities = self.command(
            "session.new", capabilities={"alwaysMatch": {"acceptInsecureCerts": True}}
        )
        self.version = str(capabilities["capabilities"]["browserVersion"])
        tree = self.command("browsingContext.getTree")
        self.context = str(tree["contexts"][0]["context"])
        self.command(
            "browsingContext.setViewport",
            context=self.context,
            viewport={"width": viewport[0], "height": viewport[1]},
        )

    def _bidi_url(self) -> str | None:
        if not self.process.running():
            raise BidiError(f"firefox-esr exited:\n{self.process.tail()}")
        for line in self.process.text().splitlines():
            if line.startswith(LISTENING):
                return line[len(LISTENING) :].strip()
        return None

    # ------------------------------------------------------------------ the protocol

    def command(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its ``result`` (events in between are not asked for)."""
        ident = next(self._ids)
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=120))
            if message.get("id") != ident:
                continue
            if message.get("type") == "error":
                raise BidiError(f"{method}: {message.get('error')}: {message.get('message')}")
            result: dict[str, Any] = message["result"]
            return result

    def navigate(self, url: str) -> None:
        self.command("browsingContext.navigate", context=self.context, url=url, wait="complete")

    def call(self, function: str, *args: Any) -> Any:
        """``function(...args)`` in the page (awaited); its result comes back through JSON."""
        expression = (
            f"(async () => {{ const r = await ({function})(...{json.dumps(list(args))});"
            " return r === undefined ? 'null' : JSON.stringify(r); })()"
        )
        result = self.command(
            "script.evaluate",
            expression=expression,
            target={"context": self.context},
            awaitPromise=True,
            resultOwnership="none",
        )
        if result.get("type") == "exception":
            details = result.get("exceptionDetails", {})
            raise BidiError(f"the page's script threw: {details.get('text')}")
        return json.loads(result["result"]["value"])

    def add_preload(self, script: str) -> None:
        """Run ``script`` (a statement) in every new document before the page's own scripts."""
        self.command("script.addPreloadScript", functionDeclaration=f"() => {{ {script} }}")

    def url(self) -> str:
        return str(self.call("() => location.href"))

    # ------------------------------------------------------------------ input

    def click(self, x: float, y: float) -> None:
        """Move the mouse to (x, y) of the viewport and press the left button there."""
        move = {"type": "pointerMove", "x": round(x), "y": round(y), "origin": "viewport"}
        self._perform(
            {
                "type": "pointer",
                "id": "mouse",
                "parameters": {"pointerType": "mouse"},
                "actions": [
                    move,
                    {"type": "pause", "duration": 50},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pointerUp", "button": 0},
                ],
            }
        )

    def type_text(self, text: str) -> None:
        """Key presses, one character after the other, to whatever has the focus."""
        keys: list[dict[str, Any]] = []
        for char in text:
            keys += [{"type": "keyDown", "value": char}, {"type": "keyUp", "value": char}]
        self._perform({"type": "key", "id": "keyboard", "actions": keys})

    def _perform(self, source: dict[str, Any]) -> None:
        self.command("input.performActions", context=self.context, actions=[source])
        self.command("input.releaseActions", context=self.context)

    # ------------------------------------------------------------------ evidence

    def screenshot(self, path: Path) -> Path:
        data = self.command("browsingContext.captureScreenshot", context=self.context)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        if hasattr(self, "_ws"):
            with contextlib.suppress(Exception):  # already gone: stopping the process is what matters
                self.command("browser.close")
        try:
            self._connection.close()
        finally:
            self.process.stop()
