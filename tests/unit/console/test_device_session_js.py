"""A managed device's session in the console (issue 17): no verification step, control that does not
wait for "Codes match", the device's own sentences, and only well-formed device facts taken."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

DEVICE = {"name": "Reception PC", "policy": "ask", "reason": "Printer queue stuck"}

PHASES = """
const { createState, sessionPhase, controlWaitingFor } = await mod("state.js");
const { stateSentence } = await mod("ui.js");
return data.map((patch) => {
  const s = Object.assign(createState({ status: patch.status || "waiting" }), patch.set || {});
  return [sessionPhase(s), stateSentence(s), controlWaitingFor(s)];
});
"""


def test_a_device_session_never_shows_the_verification_step(run_js: RunJs) -> None:
    joined = {"agentConnected": True, "offerReceived": True, "peer": "connected", "sas": "123456"}
    waiting_sas = {
        "granted": ["view", "control"],
        "paused": False,
        "active": False,
        "waitingFor": ["technician_sas"],
    }
    got = run_js(
        PHASES,
        [
            {"set": {"device": DEVICE}},
            {"status": "joined", "set": {**joined, "device": DEVICE}},
            {"status": "joined", "set": {**joined, "device": {**DEVICE, "policy": "notify"}}},
            {
                "status": "active",
                "set": {**joined, "consented": True, "device": DEVICE, "control": waiting_sas},
            },
            # a resume without proof compares a new code, on a device's session too
            {"status": "active", "set": {**joined, "consented": True, "device": DEVICE, "reverify": True}},
            # the same moments of a typed-code session: the step is there
            {"status": "joined", "set": joined},
            {"status": "active", "set": {**joined, "consented": True, "control": waiting_sas}},
        ],
    )
    assert got == [
        ["waiting", "device.waiting", []],
        ["joined", "device.joined_ask", []],
        ["joined", "device.joined_auto", []],
        ["active", "conn.active", []],
        ["verifying", "say.verify_again", []],
        ["verifying", "say.verifying", []],
        ["verifying", "say.verifying", ["technician_sas"]],
    ]


def test_only_a_well_formed_device_is_taken(run_js: RunJs) -> None:
    got = run_js(
        """
        const { deviceFrom } = await mod("state.js");
        return data.map(deviceFrom);
        """,
        [
            {"device_name": "Reception PC", "policy": "unattended", "reason": "Backup"},
            {"device_name": "Reception PC", "policy": "always", "reason": "x"},
            {"device_name": "", "policy": "ask", "reason": "x"},
            None,
            "Reception PC",
        ],
    )
    assert got == [
        {"name": "Reception PC", "policy": "unattended", "reason": "Backup"},
        None,
        None,
        None,
        None,
    ]


def test_end_reasons_of_a_device_have_sentences(run_js: RunJs) -> None:
    got = run_js(
        """
        const { loadStrings } = await mod("i18n.js");
        const { endText } = await mod("ui.js");
        const doc = { getElementById: () => ({ textContent: JSON.stringify(data.strings) }) };
        loadStrings(doc);
        return data.reasons.map((reason) => endText({ by: "system", reason }));
        """,
        {
            "strings": {
                "end.device_unavailable": "could not start",
                "end.device_unreachable": "did not answer",
                "end.by_system": "by the server",
            },
            "reasons": ["device_unavailable", "device_unreachable", "other"],
        },
    )
    assert got == ["could not start", "did not answer", "by the server"]


def test_a_device_connection_is_trusted_once_allowed_and_its_commitment_checked(run_js: RunJs) -> None:
    got = run_js(
        """
        const { createState, deviceConnectionTrusted } = await mod("state.js");
        return data.map(([set, exchange]) =>
          deviceConnectionTrusted(Object.assign(createState(), set), exchange));
        """,
        [
            [{"device": DEVICE, "consented": True}, {"trusted": True}],
            [{"device": DEVICE, "consented": False}, {"trusted": True}],  # the person has not allowed yet
            [{"device": DEVICE, "consented": True}, {"trusted": False}],  # commitment not checked yet
            [{"device": DEVICE, "consented": True}, None],
            [{"device": DEVICE, "consented": True, "aborted": True}, {"trusted": True}],
            [{"consented": True}, {"trusted": True}],  # a typed-code session waits for "Codes match"
        ],
    )
    assert got == [True, False, False, False, False, False]
