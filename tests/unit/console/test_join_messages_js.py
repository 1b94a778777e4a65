"""static/join/messages.js: the browser share accounts for every message a console may send (NEEDS)."""

from __future__ import annotations

import re
from typing import Any

from tests.unit.console.conftest import STATIC, RunJs

from veo.protocol.datachannel import NEEDS


def lists(run_js: RunJs) -> dict[str, Any]:
    got: dict[str, Any] = run_js(
        """
        const m = await mod("../join/messages.js");
        const reasons = Object.fromEntries(data.map((type) => [type, m.refusalReason(type)]));
        return { shown: m.SHOWN, input: m.INPUT_TYPES, refused: m.REFUSED, ignored: m.IGNORED, reasons };
        """,
        sorted(NEEDS),
    )
    return got


def test_every_console_message_is_in_exactly_one_of_the_shares_lists(run_js: RunJs) -> None:
    got = lists(run_js)
    named = got["shown"] + got["input"] + got["refused"] + got["ignored"]
    assert sorted(named) == sorted(NEEDS)  # none missing (file_done, view), none twice, none unknown


def test_input_is_what_needs_control_and_is_refused_with_its_reason(run_js: RunJs) -> None:
    got = lists(run_js)
    assert sorted(got["input"]) == sorted(t for t, need in NEEDS.items() if need == "control")
    assert {t: r for t, r in got["reasons"].items() if r} == {
        **dict.fromkeys(got["input"], "control_not_granted"),
        **dict.fromkeys(got["refused"], "browser_share"),
    }


def test_the_share_handles_each_shown_type(run_js: RunJs) -> None:
    source = (STATIC.parent / "join" / "share.js").read_text(encoding="utf-8")
    handled = set(re.findall(r'm\.type === "(\w+)"', source))
    assert handled == set(lists(run_js)["shown"])


def test_the_console_has_a_sentence_for_each_reason_the_share_refuses_with(run_js: RunJs) -> None:
    got = run_js(
        """
        const m = await mod("../join/messages.js");
        const { droppedKey } = await mod("ui.js");
        const reasons = [...new Set([...m.INPUT_TYPES, ...m.REFUSED].map(m.refusalReason))];
        return Object.fromEntries(reasons.map((reason) => [reason, droppedKey(reason)]));
        """,
        None,
    )
    assert got == {reason: f"dropped.{reason}" for reason in ("control_not_granted", "browser_share")}
