"""resuming.js and the resume phases: the heartbeat clock, where the resume key is kept, what a
resume reveal means (proof, wrong proof, code), and what the header says and lets through
meanwhile (state.js, ui.js)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from veo.protocol import resume

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

SESSION = "3f2a6c1e-0000-4000-8000-000000000001"
FP_OFFER = ":".join(["AB"] * 32)
FP_ANSWER = ":".join(["CD"] * 32)
FP_RELAY = ":".join(["EE"] * 32)


def _sdp(fp: str) -> str:
    return f"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\na=fingerprint:sha-256 {fp}\r\n"


def test_heartbeat_clock_beats_every_second_and_calls_four_silent_seconds_a_loss(run_js: RunJs) -> None:
    got = run_js(
        """
        const { HeartbeatClock } = await mod("resuming.js");
        const c = new HeartbeatClock();
        const log = [];
        const at = (t) => { const r = c.tick(t); log.push([t, r.send, r.lost]); };
        at(0);                        // stopped: nothing
        c.start(1000);
        at(1000); at(1500); at(2000);  // sends at start, then every second
        at(2995);                      // a hidden tab wakes on whole seconds, a little early or late
        at(9000);                     // the agent never beat: silence is not a loss (older agent)
        c.heard(9100, true);          // the first heartbeat arms the watch
        at(10000); at(13099); at(13100); at(13600);  // lost once, at 4 s of silence
        const back = c.heard(13700, false);          // any message is life again
        at(14000);
        c.stop();
        at(20000);
        return { log, back, lost: c.lost };
        """
    )
    assert got["log"] == [
        [0, False, False],
        [1000, True, False],
        [1500, False, False],
        [2000, True, False],
        [2995, True, False],
        [9000, True, False],
        [10000, True, False],
        [13099, True, False],
        [13100, False, True],
        [13600, False, False],
        [14000, True, False],
        [20000, False, False],
    ]
    assert got["back"] is True and got["lost"] is False


def test_the_resume_key_is_stored_only_once_this_page_verified_the_connection(run_js: RunJs) -> None:
    key = secrets.token_hex(32)
    got = run_js(
        """
        const { ResumeKeys } = await mod("resuming.js");
        const store = new Map();
        const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v),
                          removeItem: (k) => store.delete(k) };
        const snap = () => [...store.values()];
        const keys = new ResumeKeys(data.sid, storage);
        const out = {};
        out.empty = keys.key;
        out.garbage = keys.received("not a key");
        keys.received(data.key);                     // over the data channel, before "Codes match"
        out.inMemory = keys.pending === data.key && keys.key === null;
        out.beforeVerified = snap();
        keys.verified();                             // the technician's own click on this page
        out.afterVerified = snap();
        const reloaded = new ResumeKeys(data.sid, storage);   // F5: the tab still has it
        out.reloaded = reloaded.key === data.key;
        const other = new ResumeKeys(data.sid, { getItem: () => null });  // another browser
        out.otherBrowser = other.key;
        reloaded.newConnection();                    // a new connection, not yet verified here
        reloaded.received(data.key);
        out.verifiedAfterNew = reloaded.verifiedHere;
        reloaded.forget();                           // ended
        out.afterForget = snap();
        out.memoryAfterForget = reloaded.key;
        return out;
        """,
        {"sid": SESSION, "key": key},
    )
    assert got["empty"] is None and got["garbage"] is False
    assert got["inMemory"] is True
    assert got["beforeVerified"] == []
    assert got["afterVerified"] == [key]
    assert got["reloaded"] is True and got["otherBrowser"] is None
    assert got["verifiedAfterNew"] is False
    assert got["afterForget"] == [] and got["memoryAfterForget"] is None


def test_a_key_from_a_connection_not_verified_here_is_never_used_for_a_proof(run_js: RunJs) -> None:
    """A relay posing as the agent on a resume connection sends a key of its own before its
    (missing or wrong) reveal: the next resume must still prove with the key this page verified,
    not the planted one (else the relay could answer that proof and be taken for the agent)."""
    key, planted = secrets.token_hex(32), secrets.token_hex(32)
    got = run_js(
        """
        const { ResumeKeys } = await mod("resuming.js");
        const store = new Map();
        const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v),
                          removeItem: (k) => store.delete(k) };
        const keys = new ResumeKeys(data.sid, storage);
        keys.received(data.key);
        keys.verified();                             // the first connection, verified here
        keys.newConnection();                        // a resume offer: not verified here yet
        keys.received(data.planted);                 // on its data channel, before any reveal
        const out = {};
        const which = (k) => (k === data.key ? "verified" : k === data.planted ? "planted" : k);
        out.usedAfterPlant = which(keys.key);
        keys.newConnection();                        // its proof failed; the next resume offer
        out.usedNext = which(keys.key);
        out.stored = [...store.values()];
        keys.received(data.planted);                 // the agent's key, arriving before its proof was judged
        keys.verified();                             // the proof checked out: the key is taken now
        out.afterProof = keys.key === data.planted;
        return out;
        """,
        {"sid": SESSION, "key": key, "planted": planted},
    )
    assert got["usedAfterPlant"] == "verified"
    assert got["usedNext"] == "verified"
    assert got["stored"] == [key]
    assert got["afterProof"] is True


JUDGE = """
const { answerProof, judgeReveal } = await mod("resuming.js");
const out = [];
for (const c of data.cases) {
  const exchange = {
    offerSdp: c.offer, answerSdp: c.answer, commitment: data.commitment, nonceB: data.nonceB,
  };
  const proof = await answerProof(c.key, data.sid, exchange);
  out.push({ proof, outcome: await judgeReveal(data.sid, exchange, c.reveal) });
}
return out;
"""


def test_a_resume_reveal_is_a_proof_a_wrong_proof_or_a_code_to_compare(run_js: RunJs) -> None:
    key = secrets.token_bytes(32)
    commitment = secrets.token_hex(32)
    nonce_b = secrets.token_hex(32)

    def agent_proof(fp_offer: str, fp_answer: str, k: bytes = key) -> str:
        return resume.proof(k, "agent", SESSION, fp_offer, fp_answer, commitment, nonce_b)

    honest = {"key": key.hex(), "offer": _sdp(FP_OFFER), "answer": _sdp(FP_ANSWER)}
    got = run_js(
        JUDGE,
        {
            "sid": SESSION,
            "commitment": commitment,
            "nonceB": nonce_b,
            "cases": [
                {**honest, "reveal": agent_proof(FP_OFFER, FP_ANSWER)},  # the same verified agent
                # a relay swapped the answer's fingerprint on the agent's side: the MACs disagree
                {**honest, "reveal": agent_proof(FP_OFFER, FP_RELAY)},
                {**honest, "reveal": agent_proof(FP_OFFER, FP_ANSWER, secrets.token_bytes(32))},
                {**honest, "reveal": "zz"},
                {**honest, "reveal": None},  # stripped, or the agent had no key: compare a code
                {**honest, "key": None, "reveal": agent_proof(FP_OFFER, FP_ANSWER)},  # we sent none
                {**honest, "answer": "v=0\r\n", "reveal": agent_proof(FP_OFFER, FP_ANSWER)},
            ],
        },
    )
    ours = resume.proof(key, "console", SESSION, FP_OFFER, FP_ANSWER, commitment, nonce_b)
    assert got[0] == {"proof": ours, "outcome": "proof"}  # byte for byte what the agent checks
    outcomes = [g["outcome"] for g in got]
    assert outcomes == ["proof", "bad_proof", "bad_proof", "bad_proof", "code", "code", "code"]
    assert got[5]["proof"] is None and got[6]["proof"] is None


PHASES = """
const { createState, sessionPhase, controlState, inputAllowed, linkDown } = await mod("state.js");
const { notSentKey } = await mod("ui.js");
return data.map((patch) => {
  const s = Object.assign(createState({ status: patch.status || "active" }), patch.set || {});
  return [sessionPhase(s), controlState(s), inputAllowed(s), linkDown(s), notSentKey(s)];
});
"""

CONTROL = {"granted": ["view", "control"], "paused": False, "active": True, "waitingFor": []}
LIVE = {
    "peer": "connected",
    "consented": True,
    "sas": "123456",
    "offerReceived": True,
    "technicianSasConfirmed": True,
    "control": CONTROL,
}


def test_phases_while_the_link_is_down_and_input_never_leaves(run_js: RunJs) -> None:
    got = run_js(
        PHASES,
        [
            {"set": LIVE},
            {"set": {**LIVE, "interrupted": True}},  # the server says so
            {"set": {**LIVE, "linkLost": True}},  # the heartbeat fell silent here
            {"set": {**LIVE, "peer": "failed"}},
            {"set": {**LIVE, "resuming": True, "sas": ""}},  # a resume offer, proof not checked yet
            {"set": {**LIVE, "awaitingResume": True, "offerReceived": False}},  # F5
            # verify_again: the new code is shown although the server still says interrupted
            {"set": {**LIVE, "interrupted": True, "reverify": True, "technicianSasConfirmed": False}},
            {"set": {**LIVE, "interrupted": True, "reverify": True}},  # confirmed here, the user not yet
            {"set": {**LIVE, "interrupted": True, "signalingDown": True}},
            {"set": {**LIVE, "interrupted": True, "ended": {"by": "system", "reason": "connection_lost"}}},
            # a browser share's reloaded console: the join page does not resume
            {"set": {**LIVE, "awaitingResume": True, "offerReceived": False, "mode": "browser"}},
            # before the user allowed: a failed peer is not a resume (the session ends as before)
            {
                "status": "connecting",
                "set": {
                    **LIVE,
                    "consented": False,
                    "peer": "failed",
                    "sas": "",
                    "control": {**CONTROL, "active": False},
                },
            },
        ],
    )
    assert [row[:4] for row in got] == [
        ["active", "active", True, False],
        ["reconnecting", "off", False, True],
        ["reconnecting", "off", False, True],
        ["reconnecting", "off", False, True],
        ["reconnecting", "off", False, True],
        ["reconnecting", "off", False, True],
        ["verifying", "off", False, True],
        ["verifying", "off", False, True],
        ["reconnecting", "off", False, True],
        ["ended", "off", False, False],
        ["active", "active", True, False],
        ["joined", "off", False, False],
    ]
    # a click or key meanwhile says why it was not sent
    assert {row[4] for row in got[1:9]} == {"notice.reconnecting"}
    assert got[0][4] != "notice.reconnecting"


SENTENCES = """
const i18n = await mod("i18n.js");
i18n.loadStrings({ getElementById: () => ({ textContent: JSON.stringify(data.catalog) }) });
const { createState } = await mod("state.js");
const { stateSentence, endText, linkLostDetail } = await mod("ui.js");
const now = Date.parse("2026-12-06T14:30:15Z");
const live = {
  peer: "connected", consented: true, sas: "123456", offerReceived: true, technicianSasConfirmed: true,
};
const build = (set) => Object.assign(createState({ status: "active" }), live, set);
return {
  lost: stateSentence(build({ linkLost: true }), now),
  until: stateSentence(build({ interrupted: true, resumeDeadline: new Date("2026-12-06T14:32:00Z") }), now),
  held: linkLostDetail(build({ linkLost: true }), now),
  left: linkLostDetail(build({ interrupted: true, resumeDeadline: new Date("2026-12-06T14:32:00Z") }), now),
  past: linkLostDetail(build({ interrupted: true, resumeDeadline: new Date("2026-12-06T14:30:00Z") }), now),
  server: stateSentence(build({ signalingDown: true }), now),
  again: stateSentence(build({ interrupted: true, reverify: true, technicianSasConfirmed: false }), now),
  againWait: stateSentence(build({ interrupted: true, reverify: true }), now),
  ends: ["connection_lost", "resume_failed"].map((reason) => endText({ by: "system", reason })),
};
"""


def test_what_the_header_says_while_reconnecting_and_when_it_ends(run_js: RunJs) -> None:
    catalog = {
        "lang": "en-GB",
        "say.reconnecting": "R.",
        "say.link_lost": "Lost.",
        "say.link_lost_until": "Ends at {time}.",
        "say.link_lost_input": "Held.",
        "say.link_lost_left": "Ends in {left}.",
        "say.verify_again": "Again.",
        "say.verify_again_wait": "Again, waiting.",
        "end.connection_lost": "Did not come back.",
        "end.resume_failed": "Proofs failed.",
    }
    got = run_js(SENTENCES, {"catalog": catalog})
    assert got["lost"] == "Lost."  # no deadline known yet: no time is made up
    assert re.fullmatch(r"Lost\. Ends at \d\d:\d\d\.", got["until"]), got["until"]  # the browser's zone
    assert (got["held"], got["left"], got["past"]) == ("Held.", "Held. Ends in 1:45.", "Held. Ends in 0:00.")
    assert got["server"] == "R."
    assert (got["again"], got["againWait"]) == ("Again.", "Again, waiting.")
    assert got["ends"] == ["Did not come back.", "Proofs failed."]


FILES = """
const ticks = [];
globalThis.setInterval = (fn) => ticks.push(fn);  // files.js looks every 500 ms: the test says when
const { createState } = await mod("state.js");
const { install } = await mod("files.js");
const element = () => {
  const el = {
    dataset: {}, textContent: "", disabled: false, children: [], listeners: {},
    addEventListener: (name, fn) => { el.listeners[name] = fn; },
    append: (...kids) => el.children.push(...kids), prepend: (kid) => el.children.unshift(kid),
    remove: () => {}, focus: () => {},
  };
  return el;
};
const ids = new Map();
const doc = {
  getElementById: (id) => { if (!ids.has(id)) ids.set(id, element()); return ids.get(id); },
  createElement: () => element(),
};
doc.getElementById("files-panel").dataset.maxFileBytes = "1000000";
const handlers = new Map();
const sent = [];
const app = {
  state: Object.assign(createState({ status: "active", requested: ["view", "files"] }), {
    offerReceived: true, peer: "connected",
    control: { granted: ["view", "files"], paused: false, active: false, waitingFor: [] },
  }),
  onDataType: (type, fn) => handlers.set(type, fn),
  onChannelLabel: () => {},
  dataOpen: () => !app.state.linkLost,
  sendData: (m) => { sent.push(m.type); return true; },
};
const { transfers } = install(app, doc);
handlers.get("file_offer")({ type: "file_offer", id: data.id, name: "log.txt", size: 10, sha256: data.sha });
const before = transfers.get(data.id).state;
ticks.forEach((tick) => tick());
const still = transfers.get(data.id).state;
app.state[data.lost] = true;  // the link drops mid-transfer
ticks.forEach((tick) => tick());
const tr = transfers.get(data.id);
return { before, still, after: tr.state, said: tr.el.text.textContent, sent };
"""


@pytest.mark.parametrize("lost", ["linkLost", "interrupted"])  # noticed here, or said by the server
def test_a_transfer_in_flight_stops_with_a_sentence_when_the_link_is_lost(run_js: RunJs, lost: str) -> None:
    got = run_js(FILES, {"id": "a" * 32, "sha": "0" * 64, "lost": lost})
    assert got["before"] == got["still"] == "receiving"
    assert got["after"] == "cancelled"
    assert got["said"] == "files.link_lost"  # the catalog's key: no catalog is loaded here
    assert got["sent"] == ["file_accept"]  # nothing told over a dead link


def test_a_new_code_comparison_ends_when_resumed_or_confirmed_here_with_nothing_interrupted(
    run_js: RunJs,
) -> None:
    got = run_js(
        """
        const { createState, reverifyDone } = await mod("state.js");
        const build = (set) => Object.assign(createState({ status: "active" }), set);
        return data.map(([set, was]) => reverifyDone(build(set), was));
        """,
        [
            [{"reverify": True, "interrupted": True, "technicianSasConfirmed": False}, True],  # code shown
            [{"reverify": True, "interrupted": True, "technicianSasConfirmed": True}, True],  # the user next
            [{"reverify": True, "interrupted": False, "technicianSasConfirmed": True}, True],  # resumed
            [{"reverify": True, "interrupted": False, "technicianSasConfirmed": False}, False],  # not yet
            [
                {"reverify": True, "interrupted": False, "technicianSasConfirmed": True},
                False,
            ],  # no drop marked
            [{"reverify": False, "interrupted": False, "technicianSasConfirmed": True}, True],
        ],
    )
    assert got == [False, False, True, False, True, False]
