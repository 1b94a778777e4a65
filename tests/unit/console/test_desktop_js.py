"""desktop.js: the user's desktop's limits, validated and said in the technician's words; what
needs control (Ask for control, Send keys, the not-sent notice) follows the desktop's "no"."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

TEMPLATE = (
    Path(__file__).resolve().parents[3] / "src" / "veo" / "server" / "web" / "templates" / "console.html"
)
STRINGS = {
    "desktop.no_remote_desktop": "The user's desktop (Wayland) does not allow remote control: view only.",
    "desktop.control_refused": "The user switched remote control off in their desktop's sharing window.",
    "desktop.control_at_start": (
        "The user did not allow control; on their desktop (Wayland) control can only be given when a "
        "session starts: start a new session to ask for it."
    ),
    "desktop.no_overlay": "Your drawings show only on your screen on this desktop.",
    "desktop.no_stop_key": (
        "The user's desktop has no emergency stop key; they can stop with the Stop button on the veo bar."
    ),
    "session.stop_key": "The user can stop the session with {keys}.",
}
LOAD = """
const { loadStrings } = await mod("i18n.js");
loadStrings({ getElementById: () => ({ textContent: JSON.stringify(data.strings) }) });
"""


def state(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "consented": True,
        "ended": None,
        "aborted": False,
        "mode": "agent",
        "requested": ["view", "control"],
        "granted": ["view"],
        "control": {"granted": ["view"], "paused": False, "active": False, "waitingFor": []},
        "desktop": None,
        "linkLost": False,
        "interrupted": False,
        "signalingDown": False,
        "resuming": False,
        "reverify": False,
        "elsewhere": False,
        "pausedByUser": False,
    }
    return {**base, **changes}


def test_the_message_is_validated(run_js: RunJs) -> None:
    got = run_js(
        'const { parseDesktop } = await mod("desktop.js"); return data.map(parseDesktop);',
        [
            {
                "type": "desktop",
                "backend": "portal",
                "control": False,
                "limits": ["control_refused", "no_stop_key"],
            },
            {"type": "desktop", "backend": "x11", "control": True},
            {
                "type": "desktop",
                "backend": "portal",
                "control": True,
                "limits": ["<b>", 7, "pointer_in_picture"],
            },
            {"type": "desktop", "backend": "windows", "control": True, "limits": []},
            {"type": "desktop", "backend": "portal", "control": "no", "limits": []},
            None,
        ],
    )
    assert got == [
        {"backend": "portal", "control": False, "limits": ["control_refused", "no_stop_key"]},
        {"backend": "x11", "control": True, "limits": []},
        {"backend": "portal", "control": True, "limits": ["pointer_in_picture"]},
        None,
        None,
        None,
    ]


def test_each_limit_is_a_sentence_in_order(run_js: RunJs) -> None:
    got = run_js(
        LOAD
        + """
        const { limitSentences, desktopControlWhy } = await mod("desktop.js");
        const desktop = { backend: "portal", control: false,
          limits: ["pointer_in_picture", "no_stop_key", "no_overlay", "no_remote_desktop"] };
        return [limitSentences(desktop), desktopControlWhy({ desktop }),
                desktopControlWhy({ desktop: { ...desktop, limits: ["control_refused"] } }),
                desktopControlWhy({ desktop: { ...desktop, control: true } }), limitSentences(null)];
        """,
        {"strings": STRINGS},
    )
    sentences, why, refused, none, empty = got
    assert sentences == [
        STRINGS["desktop.no_remote_desktop"],
        STRINGS["desktop.no_overlay"],
        STRINGS["desktop.no_stop_key"],
    ], "pointer_in_picture is not said: nothing changes for the technician"
    assert why == STRINGS["desktop.no_remote_desktop"]
    assert refused == STRINGS["desktop.control_refused"]
    assert none == "" and empty == []


def test_control_is_not_offered_where_the_desktop_refuses_it(run_js: RunJs) -> None:
    no_control = {"backend": "portal", "control": False, "limits": ["control_refused"]}
    with_control = {"backend": "portal", "control": True, "limits": []}
    got = run_js(
        """
        const { askableFor } = await mod("permissions.js");
        const { needed } = await mod("panel.js");
        const { notSentKey } = await mod("ui.js");
        const asked = ["control", "clipboard"];
        return data.map((s) => [askableFor(s, asked), needed("control", s), notSentKey(s)]);
        """,
        [state(desktop=no_control), state(desktop=with_control), state()],
    )
    assert got[0] == [["clipboard"], False, "notice.desktop_view_only"]
    assert got[1] == [["control", "clipboard"], True, "notice.not_granted"]
    assert got[2] == [["control", "clipboard"], True, "notice.not_granted"]


def test_the_message_draws_the_limits_above_the_screen(run_js: RunJs) -> None:
    got = run_js(
        LOAD
        + """
        const { install } = await mod("desktop.js");
        const el = (id) => ({ id, hidden: true, textContent: "", children: [],
          replaceChildren(...kids) { this.children = kids; } });
        const nodes = { "desktop-limits": el("desktop-limits"), "stop-key": el("stop-key") };
        nodes["stop-key"].textContent = "The user can stop the session with Ctrl+Alt+Shift+End.";
        const doc = { getElementById: (id) => nodes[id] || null,
          createElement: () => ({ textContent: "", dataset: {} }) };
        const handlers = new Map();
        const app = { state: { desktop: null }, onDataType: (type, fn) => handlers.set(type, fn) };
        install(app, doc);
        const before = nodes["desktop-limits"].hidden;
        handlers.get("desktop")({ type: "desktop", v: 1, backend: "portal", control: false,
          limits: ["no_remote_desktop", "no_stop_key", "pointer_in_picture"] });
        const list = nodes["desktop-limits"];
        const after = [list.hidden, list.children.map((c) => [c.dataset.limit, c.textContent]),
          nodes["stop-key"].textContent, app.state.desktop];
        handlers.get("desktop")({ type: "desktop", backend: "portal", control: true, limits: [] });
        return [before, after, [list.hidden, list.children.length]];
        """,
        {"strings": STRINGS},
    )
    before, after, cleared = got
    assert before is True
    hidden, items, stop_key, desktop = after
    assert hidden is False
    assert items == [
        ["no_remote_desktop", STRINGS["desktop.no_remote_desktop"]],
        ["no_stop_key", STRINGS["desktop.no_stop_key"]],
    ]
    assert stop_key == STRINGS["desktop.no_stop_key"], (
        "the stop-key hint must not promise keys that do nothing"
    )
    assert desktop == {
        "backend": "portal",
        "control": False,
        "limits": ["no_remote_desktop", "no_stop_key", "pointer_in_picture"],
    }
    assert cleared == [True, 0]


def test_every_said_limit_has_a_translated_string_in_the_console_page() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    for limit in ("no_remote_desktop", "control_refused", "no_overlay", "no_stop_key"):
        assert re.search(rf'"desktop\.{limit}": _\("', text), limit
    assert '"notice.desktop_view_only": _("' in text


def test_control_unticked_on_wayland_is_the_users_no_and_cannot_be_asked_again(run_js: RunJs) -> None:
    """The portal session opened without input cannot gain it: no "Ask for control", and the
    sentence says why without blaming the desktop; a click's notice is the user's "no"."""
    at_start = {"backend": "portal", "control": False, "limits": ["control_at_start"]}
    got = run_js(
        LOAD
        + """
        const { askableFor } = await mod("permissions.js");
        const { notSentKey } = await mod("ui.js");
        const { desktopControlWhy, limitSentences } = await mod("desktop.js");
        const s = data.state;
        return [askableFor(s, ["control", "files"]), notSentKey(s), desktopControlWhy(s),
                limitSentences(s.desktop)];
        """,
        {"strings": STRINGS, "state": state(desktop=at_start)},
    )
    askable, notice, why, sentences = got
    assert askable == ["files"]
    assert notice == "notice.not_granted"
    assert why == STRINGS["desktop.control_at_start"] and sentences == [why]
