"""Two console tabs of one session (a duplicated tab copies sessionStorage, resume key included).

Every console of the session gets the agent's offer and answers it; the server takes the first
answer and answers the other ``out_of_order`` (then relays the agent's reveal to both). The tab
whose answer lost must step aside: no code of its own (it would not be the user's), no refusal of
the winner's proof (it is over the other tab's answer), no error banner, one calm sentence
(signaling.js answerNotTaken, state.js stepAside, ui.js).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

#: What the hub sends a console whose answer lost (sessions/wire.py ``error("out_of_order", "answer")``).
NOT_TAKEN = {
    "v": 1,
    "type": "error",
    "code": "out_of_order",
    "message": "This message is not expected at this step of the session. (answer)",
    "fatal": False,
}


def test_out_of_order_after_this_pages_answer_or_refusal_means_another_tab_took_it(run_js: RunJs) -> None:
    got = run_js(
        """
        const { answerNotTaken } = await mod("signaling.js");
        return data.cases.map(([message, lastSent]) => answerNotTaken(message, lastSent));
        """,
        {
            "cases": [
                [NOT_TAKEN, "answer"],
                [NOT_TAKEN, "resume_refused"],  # the winner's reveal was refused here first
                [NOT_TAKEN, "sas_confirm"],  # a reply to something else this page sent
                [NOT_TAKEN, "permission_request"],
                [NOT_TAKEN, None],  # a new socket: nothing it says replies to the old one
                [{**NOT_TAKEN, "code": "server_error"}, "answer"],
                [{**NOT_TAKEN, "type": "session_state"}, "answer"],
                [None, "answer"],
            ]
        },
    )
    assert got == [True, True, False, False, False, False, False, False]


def test_the_socket_remembers_what_it_sent_last_and_a_new_socket_forgets_it(run_js: RunJs) -> None:
    got = run_js(
        """
        const sent = [];
        globalThis.WebSocket = class {
          static OPEN = 1;
          constructor(url) { this.url = url; this.readyState = 1; }
          addEventListener() {}
          send(raw) { sent.push(JSON.parse(raw).type); }
          close() {}
        };
        const { Signaling } = await mod("signaling.js");
        const sig = new Signaling("ws://127.0.0.1/ws/console?session=x", { onMessage() {} });
        const out = [sig.lastSent];
        sig.connect();
        sig.send("answer", { sdp: "v=0", nonce: "a".repeat(64) });
        out.push(sig.lastSent);
        sig.send("resume_refused", { reason: "bad_proof" });
        out.push(sig.lastSent);
        sig.connect();  // what the retry after a drop does
        out.push(sig.lastSent);
        sig.stop();
        return { out, sent };
        """
    )
    assert got["out"] == [None, "answer", "resume_refused", None]
    assert got["sent"] == ["answer", "resume_refused"]


STEP_ASIDE = """
const i18n = await mod("i18n.js");
i18n.loadStrings({ getElementById: () => ({ textContent: JSON.stringify(data.catalog) }) });
const { createState, sessionPhase, controlState, inputAllowed, stepAside } = await mod("state.js");
const { ConsoleView, notSentKey, stateSentence } = await mod("ui.js");
const elements = new Map();
const doc = {
  getElementById(id) {
    if (!elements.has(id)) {
      elements.set(id, { id, dataset: {}, textContent: "", hidden: false, disabled: false,
                         parentElement: null, append() {}, setAttribute() {} });
    }
    return elements.get(id);
  },
};
const view = new ConsoleView(doc);
const seen = (s) => {
  view.render(s);
  const el = (id) => elements.get(id);
  return {
    phase: sessionPhase(s), control: controlState(s), input: inputAllowed(s), notSent: notSentKey(s),
    sentence: stateSentence(s), badge: el("state-badge").textContent, sas: el("sas-code").textContent,
    verifyHidden: el("verify-bar").hidden, errorHidden: el("error-banner").hidden,
    stage: el("stage-message").hidden ? null : el("stage-message").textContent,
  };
};
return data.cases.map(({ status, set, aside }) => {
  const s = Object.assign(createState({ status }), set);
  const before = seen(s);
  if (aside) stepAside(s);
  return { before, after: seen(s), sas: s.sas, elsewhere: s.elsewhere };
});
"""

CATALOG = {
    "lang": "es",
    "phase.elsewhere": "En otra ventana",
    "say.elsewhere": "Esta sesión continúa en otra ventana.",
    "say.link_lost": "Reconectando…",
    "say.verifying": "Lea el código.",
    "phase.verifying": "Verificando",
    "phase.reconnecting": "Reconectando",
    "phase.ended": "Finalizada",
}
OVER = {"by": "user", "reason": "hangup"}
CONTROL = {"granted": ["view", "control"], "paused": False, "active": True, "waitingFor": []}


def test_the_tab_whose_answer_lost_steps_aside_calmly(run_js: RunJs) -> None:
    resumed = {
        "peer": "new",
        "consented": True,
        "offerReceived": True,
        "technicianSasConfirmed": True,
        "resuming": True,  # a resume offer answered here
        "linkLost": True,
        "interrupted": True,  # the server still says so until the other tab's connection is back
        "frames": True,  # the last picture of the lost connection
        "control": CONTROL,
    }
    first = {  # a first offer, whose reveal reached this tab before the server's word (a slow answer)
        "peer": "connecting",
        "offerReceived": True,
        "sas": "123456",  # derived from THIS tab's answer: not the code the user sees
    }
    got = run_js(
        STEP_ASIDE,
        {
            "catalog": CATALOG,
            "cases": [
                {"status": "active", "set": resumed, "aside": True},
                {"status": "connecting", "set": first, "aside": True},
                {"status": "active", "set": {**resumed, "signalingDown": True}, "aside": True},
                {"status": "active", "set": {**resumed, "ended": OVER}, "aside": True},
            ],
        },
    )
    resumed_case, first_case, down, ended = got
    assert resumed_case["before"]["phase"] == "reconnecting"
    calm = {
        "phase": "elsewhere",
        "control": "off",
        "input": False,
        "notSent": "say.elsewhere",  # a click here says where the session is
        "sentence": "Esta sesión continúa en otra ventana.",
        "badge": "En otra ventana",
        "sas": "",
        "verifyHidden": True,
        "errorHidden": True,
        "stage": "Esta sesión continúa en otra ventana.",  # no picture: the stage says it
    }
    assert resumed_case["after"] == calm
    assert first_case["before"]["sas"] != "" and first_case["before"]["verifyHidden"] is False
    assert first_case["after"] == calm and first_case["sas"] == ""  # the wrong code is gone
    assert down["after"]["phase"] == "reconnecting"  # this page's own socket first
    assert ended["after"]["phase"] == "ended"
