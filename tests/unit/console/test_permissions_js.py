"""permissions.js: what the console offers to ask for mid-session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

ASKABLE = """
const { askableFor } = await mod("permissions.js");
return data.map(([state, allowed]) => askableFor(state, allowed));
"""
ALL = ["view", "control", "clipboard", "files"]


def state(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "consented": True,
        "ended": None,
        "aborted": False,
        "mode": "agent",
        "granted": ["view"],
        "control": {"granted": [], "paused": False, "active": False, "waitingFor": []},
    }
    return {**base, **changes}


def test_only_what_the_role_allows_and_the_session_lacks(run_js: RunJs) -> None:
    got = run_js(
        ASKABLE,
        [
            [state(), ALL],
            [state(), ["view", "clipboard"]],  # the role's policy
            [state(control={"granted": ["view", "control"]}), ALL],  # the agent's word counts
            [state(granted=["view", "control", "clipboard", "files"]), ALL],
        ],
    )
    assert got == [["control", "clipboard", "files"], ["clipboard"], ["clipboard", "files"], []]


def test_nothing_before_consent_after_the_end_or_in_a_browser_share(run_js: RunJs) -> None:
    got = run_js(
        ASKABLE,
        [
            [state(consented=False), ALL],
            [state(ended={"by": "user"}), ALL],
            [state(aborted=True), ALL],
            [state(mode="browser"), ALL],
        ],
    )
    assert got == [[], [], [], []]
