"""veo, the real thing: ``veo server``, the console page in Chromium, ``veo agent`` on Xvfb.

The server lives in the user namespace with its own throwaway data directory, set up with the
operator's commands (``veo admin init``, ``create-user --password-stdin``). Per session the
technician (Chromium) signs in through the login form, creates a ticket and a session through the
REST API, opens the session's console page; the user runs ``veo agent --server URL --code CODE``
and the bench clicks *Allow* on the real consent dialog with xdotool, at the coordinates the agent
logs (``ui-geometry consent {...}``), once the agent logs ``consent allow enabled``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page
from playwright.sync_api import Error as PlaywrightError

from veo.bench.stream.browser import DEFAULT_CONSOLE, viewport
from veo.bench.stream.display import Screen
from veo.bench.stream.lab import USER_ADDRESS, Lab
from veo.bench.stream.measure import pids_in_namespace
from veo.bench.stream.probe import PC_SPY, Probe
from veo.bench.stream.procs import BenchError, Proc, Processes, wait_for

VEO = [sys.executable, "-m", "veo"]
PORT = 8765
EMAIL = "bench@example.com"
PASSWORD = "bench password that is long enough 7"
_GEOMETRY = re.compile(r"ui-geometry (\w+) (\{.*\})\s*$")


#: a console whose browser cannot receive H.264 (``--codec vp8-console``): H.264 is taken out of
#: the video receiver's codec preferences before the answer, so the answer offers only what is
#: left, as Firefox without OpenH264 does; the agent, offering H.264 then VP8, must fall back
CONSOLE_WITHOUT_H264 = """
(() => {
  const answer = RTCPeerConnection.prototype.createAnswer;
  RTCPeerConnection.prototype.createAnswer = function (...args) {
    const codecs = RTCRtpReceiver.getCapabilities("video").codecs
      .filter((c) => !/h264/i.test(c.mimeType));
    for (const t of this.getTransceivers()) {
      if (t.receiver.track && t.receiver.track.kind === "video") t.setCodecPreferences(codecs);
    }
    return answer.apply(this, args);
  };
})();
"""
#: the bench's codec choice that is the console's, not the agent's
CONSOLE_VP8 = "vp8-console"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("VEO_")}


def agent_takes_codec() -> bool:
    """Whether this ``veo agent`` has ``--codec`` (a hidden option of the streaming work).

    Asked with a value no codec has: argparse answers "invalid choice" for a known option and
    "unrecognized arguments" for an unknown one, before the agent does anything else.
    """
    result = subprocess.run(
        [*VEO, "agent", "--codec", "__probe__"], capture_output=True, text=True, timeout=60, check=False
    )
    return "invalid choice" in result.stderr


class VeoServer:
    """``veo server`` on 0.0.0.0:``port`` in the user namespace; Chromium reaches it via the relay.

    ``settings``: more of the server's environment (the relay path's server gets its TURN URL,
    secret and relay-only policy here: a second server, because those are server-wide settings
    and the direct path must keep running without them in the same run).
    """

    def __init__(
        self,
        lab: Lab,
        procs: Processes,
        workdir: Path,
        port: int = PORT,
        settings: dict[str, str] | None = None,
        name: str = "veo-server",
    ) -> None:
        self.lab = lab
        self.url = f"http://127.0.0.1:{port}"
        data = workdir / f"{name}-data"
        data.mkdir()
        self.env = {
            **_clean_env(),
            "VEO_DATA_DIR": str(data),
            "VEO_PUBLIC_URL": self.url,
            "VEO_LANGUAGE": "en",
            **(settings or {}),
        }
        self._cli("admin", "init")
        self._cli(
            "admin", "create-user", EMAIL, "--name", "Bench Technician", "--role", "technician",
            "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        self.proc = procs.start(
            name,
            lab.in_user([*VEO, "server", "--host", "0.0.0.0", "--port", str(port), "--log-level", "warning"]),
            env=self.env,
        )
        self.relay = procs.start(
            f"{name}-tcp-relay",
            lab.in_tech(
                [
                    sys.executable,
                    "-m",
                    "veo.bench.stream.relay",
                    "127.0.0.1",
                    str(port),
                    USER_ADDRESS,
                    str(port),
                ]
            ),
            stdout_pipe=True,
        )
        wait_for(
            "the relay",
            lambda: self.relay.proc.stdout is not None and self.relay.proc.stdout.readline(),
            30,
            self.relay,
        )
        wait_for("veo server to answer /healthz", self._healthy, 90, self.proc)

    def _cli(self, *args: str, stdin: str | None = None) -> None:
        result = subprocess.run(
            [*VEO, *args], input=stdin, env=self.env, capture_output=True, text=True, timeout=180, check=False
        )
        if result.returncode != 0:
            raise BenchError(f"`veo {' '.join(args)}` failed:\n{result.stdout}{result.stderr}")

    def _healthy(self) -> bool:
        code = f"import urllib.request as u; u.urlopen('{self.url}/healthz')"
        probe = subprocess.run(
            self.lab.in_tech(["python3", "-c", code]),
            capture_output=True, check=False, timeout=20,
        )  # fmt: skip
        return probe.returncode == 0


class AgentLog:
    """The agent's ``--log-file``, re-read on every question (it is small)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[str]:
        try:
            return self.path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def contains(self, text: str) -> bool:
        return any(text in line for line in self.lines())

    def geometry(self, window: str, after: str | None = None) -> dict[str, list[int]] | None:
        lines = self.lines()
        if after is not None:
            marks = [i for i, line in enumerate(lines) if after in line]
            lines = lines[marks[-1] + 1 :] if marks else []
        for line in reversed(lines):
            match = _GEOMETRY.search(line)
            if match and match.group(1) == window:
                data: dict[str, list[int]] = json.loads(match.group(2))
                return data
        return None


class VeoSession:
    """One support session on one display and network: console page, agent, consent given.

    ``path``: ``relay`` when ``server`` is the relay path's (its name goes into the figures);
    ``control``: the technician asks for control too and the probe reads the key row (the drop
    scenario types in the console); ``console``: the browser window's size (width, height), the
    console laid out in it as on a technician's screen of that size.
    """

    label = "veo"
    #: the agent's capture and input backend (``x11`` or ``portal``), from the screen it runs on
    backend = "x11"

    def __init__(
        self,
        server: VeoServer,
        browser: Browser,
        display: Screen,
        procs: Processes,
        workdir: Path,
        codec: str | None,
        tech_inode: int,
        path: str = "direct",
        control: bool = False,
        console: tuple[int, int] | None = None,
    ) -> None:
        self.procs = procs
        self.tech_inode = tech_inode
        self.codec = codec or "auto"
        self.path = path
        self.control = control
        self.backend = display.backend
        self.console = console or DEFAULT_CONSOLE
        self.context: BrowserContext = browser.new_context(viewport=viewport(self.console), locale="en-US")  # type: ignore[arg-type]
        if codec == CONSOLE_VP8:
            self.context.add_init_script(CONSOLE_WITHOUT_H264)
        self.context.add_init_script(PC_SPY)
        self.page: Page = self.context.new_page()
        self.agent: Proc | None = None
        try:
            self._open(server, display, workdir, codec)
        except BaseException:
            self.close()
            raise

    def _open(self, server: VeoServer, display: Screen, workdir: Path, codec: str | None) -> None:
        page, url = self.page, server.url
        page.goto(f"{url}/login")
        page.fill("input[name=email]", EMAIL)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.locator("form:has(input[name=password]) [type=submit]").first.click()
        if "/login" in page.url:
            raise BenchError(f"signing in failed, still on {page.url}")
        created: dict[str, Any] = page.evaluate(
            """async ({email, password, permissions}) => {
                 const post = async (path, body, token) => {
                   const r = await fetch(path, {method: "POST", body: JSON.stringify(body),
                     headers: {"content-type": "application/json",
                               ...(token ? {authorization: "Bearer " + token} : {})}});
                   const data = await r.json();
                   if (!r.ok) throw new Error(path + " -> " + r.status + " " + JSON.stringify(data));
                   return data;
                 };
                 const {access_token} = await post("/api/v1/auth/token", {email, password});
                 const ticket = await post("/api/v1/tickets", {title: "Screen is slow (bench)",
                   requester_name: "Bench User", requester_email: "user@example.com"}, access_token);
                 return await post(`/api/v1/tickets/${ticket.id}/sessions`,
                   {permissions}, access_token);
               }""",
            {
                "email": EMAIL,
                "password": PASSWORD,
                "permissions": ["view", "control"] if self.control else ["view"],
            },
        )
        page.goto(f"{url}/sessions/{created['id']}/console")
        wait_for(
            "the console to wait for the agent",
            lambda: page.get_attribute("#conn-state", "data-state") == "waiting",
            60,
        )
        self.probe = Probe(
            page, "video", "#remote-video", display.width, display.height, keys_row=self.control
        )
        self.probe.install()

        log = AgentLog(workdir / f"agent-{display.width}x{display.height}-{time.monotonic_ns()}.log")
        self.log = log
        argv = [
            *VEO,
            "agent",
            "--server",
            url,
            "--code",
            str(created["code"]),
            "--lang",
            "en",
            "--log-file",
            str(log.path),
        ]
        if codec is not None and codec != CONSOLE_VP8:
            argv += ["--codec", codec]
        argv += display.agent_args()
        env = {**_clean_env(), **display.agent_env(), "VEO_AGENT_HISTORY": str(workdir / "history.jsonl"),
               "VEO_STREAM_TIMELINE": "1"}  # fmt: skip  # per-frame stage stamps (bench/stream/timeline.py)
        self.agent = self.procs.start(
            f"veo-agent-{display.width}x{display.height}", server.lab.in_user(argv), env=env
        )
        agent = self.agent
        wait_for("the agent's consent dialog", lambda: log.geometry("consent"), 90, agent)
        wait_for("the agent to show the verification code", lambda: log.contains("sas="), 90, agent)
        wait_for("Allow to be enabled", lambda: log.contains("consent allow enabled"), 60, agent)
        time.sleep(0.5)  # a relayout after the code was shown is logged right away
        layout = log.geometry("consent", after="sas=") or log.geometry("consent")
        if layout is None or "allow" not in layout:
            raise BenchError(f"the agent logged no Allow button: {layout}")
        x, y, w, h = layout["allow"]
        display.point(x + w // 2, y + h // 2)
        time.sleep(0.2)  # the pointer arrived (the dialog's hover state does not matter)
        allow_at = time.time() * 1000
        display.click()
        display.after_allow(self.control)  # the portal: GNOME's own dialog comes next
        wait_for("the session to start", lambda: log.contains("session started granted="), 60, agent)
        first = wait_for(
            "the console's first video frame", lambda: self.probe.first_frame_at_ms() or None, 60, agent
        )
        self.setup_ms: float | None = first - allow_at
        display.rest_pointer()
        # the technician confirms the code the user read out (as people do; not measured)
        with contextlib.suppress(PlaywrightError):
            page.click("#sas-match", timeout=15_000)
        if self.control:
            wait_for(
                "the console's control to be active",
                lambda: page.get_attribute("#control-state", "data-state") == "active",
                60,
                agent,
            )

    def source_pids(self) -> list[int]:
        return [self.agent.pid] if self.agent is not None and self.agent.running() else []

    def console_pids(self) -> list[int]:
        return pids_in_namespace(self.tech_inode, "chromium")

    def alive(self) -> None:
        if self.agent is not None and not self.agent.running():
            raise BenchError(f"the veo agent exited:\n{self.agent.tail()}")

    def close(self) -> None:
        if self.agent is not None:
            self.procs.stop(self.agent)
            self.agent = None
        with contextlib.suppress(PlaywrightError):  # the browser may be gone already on Ctrl-C
            self.context.close()
