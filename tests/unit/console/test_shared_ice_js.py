"""static/shared/ice.js: the one ICE wait and server filter of the console and the browser share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py


def test_gathering_wait_ends_on_complete_or_at_the_cap_and_unhooks_itself(run_js: RunJs) -> None:
    got = run_js(
        """
        const { gatheringComplete } = await mod("../shared/ice.js");
        class FakePc extends EventTarget { constructor(state) { super(); this.iceGatheringState = state; } }
        const done = new FakePc("complete");
        await gatheringComplete(done, 60000);                 // already complete: no wait at all
        const late = new FakePc("gathering");
        const waiting = gatheringComplete(late, 60000);
        late.iceGatheringState = "complete";
        late.dispatchEvent(new Event("icegatheringstatechange"));
        await waiting;                                       // resolved by the event, not the cap
        const stuck = new FakePc("gathering");
        await gatheringComplete(stuck, 5);                   // never completes: the cap ends it
        return true;
        """,
    )
    assert got is True


def test_the_share_offers_with_the_same_ice_servers_and_policy_as_the_console(run_js: RunJs) -> None:
    got = run_js(
        """
        const { Offerer } = await mod("../join/offerer.js");
        const made = [];
        globalThis.RTCPeerConnection = class {
          constructor(config) { made.push(config); throw new Error("stop here"); }
        };
        const offerer = new Offerer({});
        for (const policy of ["relay", undefined, "direct"]) {
          try { await offerer.offer(data, policy); } catch {}
        }
        return made;
        """,
        [{"urls": "stun:stun.example.org", "username": None}, {"username": "no urls"}],
    )
    assert [c["iceTransportPolicy"] for c in got] == ["relay", "all", "all"]
    assert all(c["iceServers"] == [{"urls": "stun:stun.example.org"}] for c in got)
