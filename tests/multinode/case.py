"""One support session across the cluster, and what the fault tests check on it.

:class:`MultiNodeCase` is the session (console on one node, agent on another) with its checks: a
console click presses the demo app's button, the record and the audit through the proxy, the
technician's *End session* reaching the agent, ``veo audit verify``. :class:`Picture` is what the
console's decoded video showed while a fault lasted (``SAMPLER`` reads the blinker's colour in
the page ten times a second). :func:`rows` reads the keys of the rows no fault may lose.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text
from tests.e2e.console import Console
from tests.e2e.flow import LiveSession
from tests.e2e.procs import Logs, wait_for

from .blinker import CENTRE, COLOURS
from .cluster import Cluster, Node

AGENT_SOCKET = '"WebSocket /ws/agent'
AGENT_REJOINED = "signaling reconnected"
AGENT_MEDIA_LOST = "peer connection lost cause="
AGENT_MEDIA_CLOSED = "peer connection closed"
#: How long a reconnect through the proxy may take (a few seconds expected; generous on 2 cores).
RECONNECT_TIMEOUT = 30.0
#: How long the picture is watched after a node is killed (at least: until the peer is back).
WATCH_SECONDS = 4.0
CLICK_TIMEOUT = 45.0

#: Samples the blinker's colour in the decoded video and the decoded frame count, every 100 ms,
#: inside the page (so a slow test process cannot thin them out).
SAMPLER = """
([x, y, colours]) => {
  const video = document.querySelector("#remote-video");
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  window.__mnSamples = [];
  window.__mnSampler = setInterval(() => {
    const vw = video.videoWidth, vh = video.videoHeight;
    if (!vw || !vh) return;
    const screen = (window.veoConsole && window.veoConsole.screen) || {};
    const sx = x * vw / (screen.width || vw), sy = y * vh / (screen.height || vh);
    canvas.width = vw; canvas.height = vh;
    ctx.drawImage(video, 0, 0);
    const d = ctx.getImageData(Math.round(sx), Math.round(sy), 1, 1).data;
    const dist = colours.map((c) => Math.abs(c[0] - d[0]) + Math.abs(c[1] - d[1]) + Math.abs(c[2] - d[2]));
    const best = dist[0] <= dist[1] ? 0 : 1;
    window.__mnSamples.push({
      t: Date.now(),
      colour: dist[best] < 90 ? best : -1,
      frames: video.getVideoPlaybackQuality().totalVideoFrames,
    });
  }, 100);
}
"""
STOP_SAMPLER = "() => { clearInterval(window.__mnSampler); return window.__mnSamples; }"


@dataclass
class Picture:
    """What the console's video showed while a fault lasted: the blinker's colour changes in each
    half of the watched time, the frames decoded, and the longest time without a change."""

    flips_first_half: int
    flips_second_half: int
    frames: int
    longest_still: float

    @classmethod
    def between(cls, samples: list[dict[str, Any]], start: float, end: float) -> Picture:
        """``start``/``end``: wall-clock seconds (the page's ``Date.now()`` is the same clock)."""
        middle = (start + end) / 2 * 1000
        window = [s for s in samples if start * 1000 <= s["t"] <= end * 1000 and s["colour"] >= 0]
        changes = [b["t"] for a, b in itertools.pairwise(window) if a["colour"] != b["colour"]]
        marks = [start * 1000, *changes, end * 1000]
        return cls(
            flips_first_half=sum(1 for t in changes if t < middle),
            flips_second_half=sum(1 for t in changes if t >= middle),
            frames=window[-1]["frames"] - window[0]["frames"] if window else 0,
            longest_still=max(b - a for a, b in itertools.pairwise(marks)) / 1000,
        )

    def kept_changing(self) -> bool:
        """The picture changed all along: twice at least in each half (the blinker flips 4 times
        a second, so a picture that froze for good early or late shows none in one half)."""
        return self.flips_first_half >= 2 and self.flips_second_half >= 2 and self.frames > 0


@dataclass
class MultiNodeCase:
    """One session across the cluster, and the ways to check it."""

    cluster: Cluster
    live: LiveSession
    logs: Logs
    agent_node: Node
    console_node: Node

    @property
    def console(self) -> Console:
        return self.live.console

    @property
    def console_socket(self) -> str:
        return f'"WebSocket /ws/console?session={self.live.session_id}'

    def sockets(self, path: str) -> dict[str, int]:
        """Per node: how many WebSockets on ``path`` its log shows opened."""
        return {node.name: node.log().count(path) for node in self.cluster.nodes}

    def clicks(self) -> int:
        state = self.live.app.state()
        assert state is not None
        return state.clicks

    def click_lands(self) -> None:
        """A console click on the demo app's button presses it once more."""
        want = self.clicks() + 1
        self.console.wait_control_state("active", timeout=CLICK_TIMEOUT)
        self.console.click_screen(*self.live.app.widget("button").center)
        state = self.live.app.wait_state(
            f"the console's click to press the button ({want} presses)",
            lambda s: s.clicks >= want,
            CLICK_TIMEOUT,
        )
        assert state.clicks == want, state

    def record(self) -> dict[str, Any]:
        response = self.cluster.api(
            "GET", f"/api/v1/sessions/{self.live.session_id}", token=self.cluster.token()
        )
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json()
        return record

    def actions(self, name: str) -> list[dict[str, Any]]:
        response = self.cluster.api(
            "GET", f"/api/v1/audit?session_id={self.live.session_id}", token=self.cluster.token()
        )
        assert response.status_code == 200, response.text
        return [e["details"] for e in response.json()["items"] if e["action"] == name]

    def start_watching(self) -> None:
        self.console.page.evaluate(SAMPLER, [CENTRE[0], CENTRE[1], [list(c) for c in COLOURS]])

    def stop_watching(self) -> list[dict[str, Any]]:
        samples: list[dict[str, Any]] = self.console.page.evaluate(STOP_SAMPLER)
        return samples

    def media_never_dropped(self, lines_before: int) -> None:
        """The agent's log since line ``lines_before`` shows no lost or closed peer connection."""
        for line in self.live.agent.log.lines()[lines_before:]:
            assert AGENT_MEDIA_LOST not in line and AGENT_MEDIA_CLOSED not in line, line

    def ready_again(self) -> float:
        """Seconds until every node's /readyz passes again (a shared service came back), then
        until the proxy sends to every node once more."""
        since = time.time()
        wait_for("every node's /readyz to recover", lambda: all(n.ready() for n in self.cluster.nodes),
                 30, self.logs)  # fmt: skip
        ready_after = time.time() - since
        self.cluster.proxy.wait_up({n.name for n in self.cluster.nodes}, self.logs)
        return ready_after

    def session_went_on(self, picture: Picture, lines_before: int) -> None:
        """The session outlived the outage: not ended, the picture kept changing, the media never
        dropped (agent log since ``lines_before``), a click still lands, the record still active."""
        assert self.live.agent.log.ended() is None, self.live.agent.log.ended()
        assert picture.kept_changing(), picture
        self.media_never_dropped(lines_before)
        self.click_lands()
        assert self.record()["status"] == "active"

    def end_by_technician(self) -> None:
        """*End session* in the console reaches the agent (console and agent on different nodes:
        the message crosses the bus) and the record says who ended it."""
        self.console.page.click("#end-session")
        self.console.wait_conn_state("ended", timeout=30)
        ended = wait_for("the agent to log the end", self.live.agent.log.ended, 30, self.logs)
        assert ended[0] == "technician", ended
        record = self.record()
        assert (record["status"], record["ended_by"]) == ("ended", "technician"), record

    def audit_verifies(self) -> None:
        out = self.cluster.cli("audit", "verify")
        assert out.startswith("OK"), out


def rows(url: str) -> dict[str, set[int | str]]:
    """Every session, ticket and audit row's key in the database at ``url`` (as the test process
    reaches it)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "remote_sessions": {r[0] for r in conn.execute(text("SELECT id FROM remote_sessions"))},
                "tickets": {r[0] for r in conn.execute(text("SELECT id FROM tickets"))},
                "audit_events": {r[0] for r in conn.execute(text("SELECT seq FROM audit_events"))},
            }
    finally:
        engine.dispose()


def assert_none_lost(before: dict[str, set[int | str]], after: dict[str, set[int | str]]) -> None:
    for table, keys in before.items():
        assert keys <= after[table], f"{table} lost rows: {sorted(keys - after[table])}"
