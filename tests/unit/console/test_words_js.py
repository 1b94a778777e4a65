"""What the console says, in words: the session's phase, end reasons, plural forms, durations and
key names (state.js sessionPhase, ui.js, i18n.js tn, keys.js)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

#: A catalog as console.html renders it, in Spanish (what matters: the plural forms and key names).
CATALOG = {
    "lang": "es",
    "tab.chat_unread": {"one": "Chat ({count} nuevo)", "other": "Chat ({count} nuevos)"},
    "end.user_stopped": "El usuario detuvo la sesión.",
    "end.technician_ended": "Usted finalizó la sesión.",
    "end.by_user": "El usuario finalizó la sesión.",
    "end.by_technician": "Usted finalizó la sesión.",
    "end.by_system": "El servidor finalizó la sesión.",
    "key.Control": "Ctrl",
    "key.Alt": "Alt",
    "key.Shift": "Mayús",
    "key.End": "Fin",
    "key.Delete": "Supr",
    "key.PageUp": "RePág",
}

LOAD = """
const i18n = await mod("i18n.js");
i18n.loadStrings({ getElementById: () => ({ textContent: JSON.stringify(data.catalog) }) });
"""

PHASES = """
const { createState, sessionPhase } = await mod("state.js");
const build = (patch) => Object.assign(createState({ status: patch.status || "waiting" }), patch.set || {});
return data.map((patch) => sessionPhase(build(patch)));
"""

CONTROL = {"granted": ["view", "control"], "paused": False, "active": True, "waitingFor": []}
PAUSED = {"granted": ["view", "control"], "paused": True, "active": False, "waitingFor": []}


def test_session_phase_names_every_state_the_header_shows(run_js: RunJs) -> None:
    live = {"peer": "connected", "consented": True, "sas": "123456", "offerReceived": True}
    got = run_js(
        PHASES,
        [
            {},
            {"status": "joined"},
            {"status": "joined", "set": {"offerReceived": True}},
            {"status": "joined", "set": {"offerReceived": True, "sas": "123456", "peer": "connected"}},
            {"status": "active", "set": {**live}},
            {"status": "active", "set": {**live, "technicianSasConfirmed": True, "control": CONTROL}},
            {"status": "active", "set": {**live, "technicianSasConfirmed": True, "control": PAUSED}},
            {"status": "active", "set": {**live, "technicianSasConfirmed": True, "pausedByUser": True}},
            {"status": "active", "set": {**live, "technicianSasConfirmed": True, "signalingDown": True}},
            {"status": "active", "set": {**live, "technicianSasConfirmed": True, "peer": "disconnected"}},
            {"status": "active", "set": {**live, "ended": {"by": "user", "reason": "user_stopped"}}},
            {"status": "expired"},
        ],
    )
    assert got == [
        "waiting",
        "joined",
        "joined",
        "verifying",
        "verifying",  # the user allowed, the technician has not said "Codes match" yet
        "active",
        "paused",
        "active",  # paused by a signal for a session without control: nothing to pause
        "reconnecting",
        "reconnecting",
        "ended",
        "ended",
    ]


def test_end_reasons_are_sentences_never_codes(run_js: RunJs) -> None:
    got = run_js(
        LOAD
        + """
const { endText } = await mod("ui.js");
return data.cases.map((ended) => endText(ended));
""",
        {
            "catalog": CATALOG,
            "cases": [
                {"by": "user", "reason": "user_stopped"},
                {"by": "technician", "reason": "technician_ended"},
                {"by": "technician", "reason": "hangup"},  # no sentence of its own: who ended it
                {"by": "user", "reason": "some_new_reason"},
                {"by": "system", "reason": "<b>x</b>"},
                {"by": "nobody", "reason": ""},
            ],
        },
    )
    assert got == [
        "El usuario detuvo la sesión.",
        "Usted finalizó la sesión.",
        "Usted finalizó la sesión.",
        "El usuario finalizó la sesión.",
        "El servidor finalizó la sesión.",
        "El servidor finalizó la sesión.",
    ]


def test_plural_forms_follow_the_language(run_js: RunJs) -> None:
    got = run_js(
        LOAD
        + """
const { tn } = await mod("i18n.js");
return [0, 1, 2, 5].map((n) => tn("tab.chat_unread", n));
""",
        {"catalog": CATALOG},
    )
    assert got == [
        "Chat (0 nuevos)",
        "Chat (1 nuevo)",
        "Chat (2 nuevos)",
        "Chat (5 nuevos)",
    ]


def test_durations_in_words_in_the_page_language(run_js: RunJs) -> None:
    got = run_js(
        """
const { durationText } = await mod("ui.js");
const cases = [
  [18, "en"], [18, "es"], [245, "en"], [245, "es"], [240, "en"], [3900, "es"], [3900, "en"], [7200, "en"],
  [90061, "es"],
];
return cases.map(([seconds, lang]) => durationText(seconds, lang));
"""
    )
    assert got == [
        "18 seconds",
        "18 segundos",
        "4 minutes and 5 seconds",  # as the ticket and the agent say it (veo/durations.py)
        "4 minutos y 5 segundos",
        "4 minutes",
        "1 hora y 5 minutos",
        "1 hour and 5 minutes",
        "2 hours",
        "1 día y 1 hora",
    ]


def test_key_names_as_a_spanish_keyboard_prints_them(run_js: RunJs) -> None:
    got = run_js(
        LOAD
        + """
const { keyCombo, comboMessages } = await mod("keys.js");
return [
  keyCombo(["Control", "Alt", "Shift", "End"]),
  keyCombo(["Control", "Alt", "Delete"]),
  keyCombo(["PageUp"]),
  keyCombo(["F13"]),
  comboMessages(["Control", "Alt", "Delete"]).map((m) => [m.key, m.code, m.down]),
];
""",
        {"catalog": CATALOG},
    )
    assert got[:4] == ["Ctrl+Alt+Mayús+Fin", "Ctrl+Alt+Supr", "RePág", "F13"]
    assert got[4] == [
        ["Control", "ControlLeft", True],
        ["Alt", "AltLeft", True],
        ["Delete", "Delete", True],
        ["Delete", "Delete", False],
        ["Alt", "AltLeft", False],
        ["Control", "ControlLeft", False],
    ]


def test_an_input_that_was_not_sent_says_why(run_js: RunJs) -> None:
    got = run_js(
        """
const { createState } = await mod("state.js");
const { notSentKey } = await mod("ui.js");
const build = (c) => Object.assign(createState({ status: "active", requested: c.requested }), c.set);
return data.map((c) => notSentKey(build(c)));
""",
        [
            {"requested": ["view"], "set": {"granted": ["view"]}},
            {"requested": ["view", "control"], "set": {"granted": ["view"]}},
            {"requested": ["view", "control"], "set": {"granted": ["view", "control"], "control": PAUSED}},
            {"requested": ["view", "control"], "set": {"consented": False, "granted": []}},
            {"requested": ["view", "control"], "set": {"mode": "browser", "granted": ["view"]}},
        ],
    )
    assert got == [
        "notice.view_only",  # nobody asked for control: not "the user did not allow it"
        "notice.not_granted",
        "notice.paused",
        "notice.not_yet",
        "notice.browser",
    ]


def test_the_console_says_a_duration_as_the_ticket_and_the_agent_do(run_js: RunJs) -> None:
    """The end card, the ticket (server) and the agent's history must not disagree on one session."""
    from veo.durations import duration_text
    from veo.i18n import gettext_for

    cases = [(s, lang) for s in (18, 60, 68, 245, 3600, 3900) for lang in ("en", "es")]
    got = run_js(
        'const { durationText } = await mod("ui.js");\n'
        f"return {[[s, lang] for s, lang in cases]}.map(([s, lang]) => durationText(s, lang));"
    )
    assert got == [duration_text(s, gettext_for(lang), lang) for s, lang in cases]
