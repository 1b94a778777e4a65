"""peer.js: ICE servers from the server's settings reach RTCPeerConnection in its own shape only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py


def test_ice_servers_are_filtered_to_the_webrtc_shape(run_js: RunJs) -> None:
    got = run_js(
        """
        const { Peer } = await mod("peer.js");
        const peer = new Peer({});
        const before = peer.iceServers;
        peer.setIceServers(data);
        const after = peer.iceServers;
        peer.setIceServers("not a list");
        return { before, after, garbage: peer.iceServers };
        """,
        [
            {"urls": ["turn:turn.example.org:3478"], "username": "1700000000:s", "credential": "c2VjcmV0"},
            {"urls": "stun:stun.example.org", "username": None, "credential": None},
            {"username": "no urls"},
            None,
        ],
    )
    assert got["before"] == []  # no public STUN default, ever (field note 3)
    assert got["after"] == [
        {"urls": ["turn:turn.example.org:3478"], "username": "1700000000:s", "credential": "c2VjcmV0"},
        {"urls": "stun:stun.example.org"},
    ]
    assert got["garbage"] == []


def test_the_operators_relay_policy_reaches_rtcpeerconnection(run_js: RunJs) -> None:
    got = run_js(
        """
        const { Peer } = await mod("peer.js");
        const made = [];
        globalThis.RTCPeerConnection = class {
          constructor(config) { made.push(config); throw new Error("stop here"); }
        };
        const peer = new Peer({});
        const tryAnswer = async () => { try { await peer.answer("v=0"); } catch {} };
        await tryAnswer();                                   // nothing said: "all"
        peer.setIceServers(data, "relay");
        await tryAnswer();                                   // VEO_ICE_TRANSPORT_POLICY=relay
        peer.setIceServers(data);                            // servers only: the policy stays
        await tryAnswer();
        peer.setIceServers(data, "direct");                  // anything else is "all"
        await tryAnswer();
        return made.map((c) => c.iceTransportPolicy);
        """,
        [
            {
                "urls": ["turn:turn.example.org:3478"],
                "username": "1700000000:s.browser",
                "credential": "c2VjcmV0",
            }
        ],
    )
    assert got == ["all", "relay", "relay", "all"]
