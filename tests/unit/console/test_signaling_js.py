"""signaling.js: how soon a dropped console socket tries again (a restarted server, issue 13)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py


def test_reconnects_soon_and_keeps_trying_every_two_seconds(run_js: RunJs) -> None:
    got = run_js(
        """
        const { backoffDelay } = await mod("signaling.js");
        return [0, 1, 2, 3, 10, 50].map(backoffDelay);
        """
    )
    # the agent's resume offer reaches the console only through this socket: never wait long
    assert got == [500, 1000, 2000, 2000, 2000, 2000]


def test_a_silent_socket_is_replaced_while_the_link_is_lost(run_js: RunJs) -> None:
    """probe(): a ping every second; no answer (or an attempt that never opens) within 2 s makes
    way for a new socket at once; a socket that answers is kept; pings leave lastSent alone."""
    got = run_js(
        """
        const made = [];
        class FakeSocket {
          static CONNECTING = 0;
          static OPEN = 1;
          constructor(url) {
            this.url = url; this.readyState = 0; this.sent = []; this.closed = false; this.listeners = {};
            made.push(this);
          }
          addEventListener(name, fn) { (this.listeners[name] ||= []).push(fn); }
          emit(name, event = {}) { for (const fn of this.listeners[name] || []) fn(event); }
          send(text) { this.sent.push(JSON.parse(text).type); }
          close() { this.closed = true; }
          open() { this.readyState = 1; this.emit("open"); }
        }
        globalThis.WebSocket = FakeSocket;
        const { Signaling } = await mod("signaling.js");
        const sig = new Signaling("ws://x/ws/console?session=s", { onMessage: () => {} });
        let clock = 1000000;
        sig.now = () => clock;
        sig.connect();
        const first = made[0];
        first.open();
        sig.send("answer", {});
        const at = (t) => { clock = 1000000 + t; sig.probe(); };
        at(1100);                                   // a ping goes out
        const pinged = [...first.sent];
        clock = 1000000 + 1200;
        first.emit("message", { data: '{"type":"pong","v":1}' });
        at(1500);                                   // answered: nothing to do yet
        at(5000);                                   // a second ping
        at(6000);                                   // not yet given up
        const keptWhileWaiting = made.length === 1;
        at(7100);                                   // unanswered for more than 2 s: replaced
        const second = made[1];
        at(8600);                                   // the new attempt is still connecting
        const waitedForAttempt = made.length === 2;
        at(9200);                                   // never opened within 2 s: tried afresh
        return {
          pinged, lastSent: "answer" === "answer" && sig.lastSent,
          keptWhileWaiting, firstClosed: first.closed, secondClosed: second.closed,
          waitedForAttempt, sockets: made.length,
        };
        """,
        {},
    )
    assert got == {
        "pinged": ["answer", "ping"],
        "lastSent": None,  # a new socket forgets the old one's last word (set at connect)
        "keptWhileWaiting": True,
        "firstClosed": True,
        "secondClosed": True,
        "waitedForAttempt": True,
        "sockets": 3,
    }
