"""state.js: the states the page shows, and the single rule that gates input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

STATES = """
const { createState, connectionState, controlState, inputAllowed } = await mod("state.js");
return data.map((patch) => {
  const s = Object.assign(createState({ status: patch.status || "waiting" }), patch.set || {});
  return [connectionState(s), controlState(s), inputAllowed(s)];
});
"""

ACTIVE = {"granted": ["view", "control"], "paused": False, "active": True}


def test_connection_state_follows_the_session(run_js: RunJs) -> None:
    got = run_js(
        STATES,
        [
            {},
            {"status": "joined"},
            {"set": {"agentConnected": True}},
            {"status": "joined", "set": {"offerReceived": True}},
            {"status": "joined", "set": {"offerReceived": True, "peer": "connected"}},
            {"status": "active", "set": {"peer": "connecting"}},
            {"status": "active", "set": {"peer": "connected"}},
            {"status": "active", "set": {"peer": "connected", "ended": {"by": "user", "reason": ""}}},
            {"status": "active", "set": {"peer": "connected", "aborted": True, "ended": {"by": "system"}}},
            {"status": "expired"},
        ],
    )
    assert [row[0] for row in got] == [
        "waiting",
        "joined",
        "joined",
        "connecting",
        "connected",
        "connecting",
        "active",
        "ended",
        "aborted",
        "ended",
    ]


def test_input_is_allowed_only_while_the_agent_says_active(run_js: RunJs) -> None:
    got = run_js(
        STATES,
        [
            {"status": "active", "set": {"peer": "connected"}},
            {"status": "active", "set": {"peer": "connected", "control": ACTIVE}},
            {
                "status": "active",
                "set": {"control": {**ACTIVE, "active": False}},
            },  # granted, SAS not confirmed
            {"status": "active", "set": {"control": {**ACTIVE, "paused": True, "active": False}}},
            {
                "status": "active",
                "set": {"control": ACTIVE, "pausedByUser": True},
            },  # signaling said paused first
            {"status": "active", "set": {"control": {"granted": ["view"], "paused": False, "active": False}}},
            {"status": "active", "set": {"control": ACTIVE, "ended": {"by": "technician"}}},
        ],
    )
    assert [row[1:] for row in got] == [
        ["off", False],
        ["active", True],
        ["off", False],
        ["paused", False],
        ["paused", False],
        ["off", False],
        ["off", False],
    ]


def test_countdown_formatting(run_js: RunJs) -> None:
    got = run_js(
        """
        const { secondsLeft, formatCountdown } = await mod("state.js");
        const at = new Date(Date.UTC(2026, 0, 1, 10, 0, 0));
        return [secondsLeft(at, at.getTime() - 545500), secondsLeft(at, at.getTime() + 1000),
                secondsLeft(null, 0), formatCountdown(545), formatCountdown(0)];
        """,
    )
    assert got == [545, 0, None, "9:05", "0:00"]


def test_control_waiting_for_explains_why_granted_control_is_off(run_js: RunJs) -> None:
    body = """
    const { createState, controlWaitingFor } = await mod("state.js");
    return data.map((control) => {
      const s = Object.assign(createState({ status: "active" }), { peer: "connected", control });
      return controlWaitingFor(s);
    });
    """
    waiting = {"granted": ["view", "control"], "paused": False, "active": False}
    got = run_js(
        body,
        [
            {**waiting, "waitingFor": ["technician_sas", "identity"]},
            {**waiting, "waitingFor": ["identity", "made_up"]},
            {**waiting, "granted": ["view"], "waitingFor": ["technician_sas"]},  # control not granted
            {**waiting, "active": True, "waitingFor": ["technician_sas"]},  # active: nothing to explain
            {**waiting, "paused": True, "waitingFor": ["technician_sas"]},  # paused says it already
        ],
    )
    assert got == [["technician_sas", "identity"], ["identity"], [], [], []]
