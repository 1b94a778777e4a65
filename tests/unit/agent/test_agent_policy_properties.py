"""Property test of the agent's consent/permission state machine (``veo.agent.policy``).

Hypothesis drives a :class:`Policy` through random sequences of what can happen in a session:
the user's Allow (any boxes ticked, any request), pause and resume, the technician's confirmation
(code, identity required or not, identity confirmed or not), the end of the session, and input
messages, valid or malformed. A plain model of the rules says when input may pass:

    consented AND control granted (requested and ticked, with view) AND the user confirmed the code
    AND the technician confirmed it AND (identity not required OR confirmed) AND not paused

and every message is checked against it: an input is applied if and only if the model allows it,
and a malformed message is never applied.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from veo.agent.policy import Policy
from veo.protocol.permissions import Permission
from veo.protocol.signaling import TechnicianConfirmed

permission_sets = st.frozensets(st.sampled_from(list(Permission)))
coords = st.integers(0, 32767)
valid_inputs = st.one_of(
    st.builds(lambda x, y: {"type": "pointer_move", "x": x, "y": y}, coords, coords),
    st.builds(
        lambda x, y, b, d: {"type": "pointer_button", "x": x, "y": y, "button": b, "down": d},
        coords,
        coords,
        st.sampled_from(["left", "middle", "right"]),
        st.booleans(),
    ),
    st.builds(
        lambda x, y, dy: {"type": "wheel", "x": x, "y": y, "dy": dy}, coords, coords, st.integers(-100, 100)
    ),
    st.builds(
        lambda k, d: {"type": "key", "key": k, "code": "", "down": d},
        st.text(min_size=1, max_size=32),
        st.booleans(),
    ),
    st.builds(lambda t: {"type": "text", "text": t}, st.text(min_size=1, max_size=50)),
    st.just({"type": "release_all"}),
)
invalid_inputs = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=40),
    st.builds(lambda x: {"type": "pointer_move", "x": x, "y": 1}, st.integers(max_value=-1)),
    st.builds(lambda x: {"type": "pointer_move", "x": x, "y": 1}, st.integers(min_value=32768)),
    st.just({"type": "key", "key": "", "down": True}),
    st.just({"type": "text", "text": ""}),
    st.just({"type": "format_disk"}),
    st.just({"type": "pointer_move", "x": 1, "y": 1, "v": 2}),
    st.just({"type": "pointer_move", "x": 1, "y": 1, "extra": "field"}),
    st.just({"type": "control", "granted": ["control"], "paused": False, "active": True}),
)


class PolicyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.policy = Policy()
        self.model: dict[str, Any] = self._fresh()

    @staticmethod
    def _fresh() -> dict[str, Any]:
        return {
            "consented": False,
            "control": False,
            "paused": False,
            "tech_sas": False,
            "id_required": False,
            "id_confirmed": False,
        }

    def _allowed(self) -> bool:
        m = self.model
        return bool(
            m["consented"]
            and m["control"]
            and m["tech_sas"]
            and (not m["id_required"] or m["id_confirmed"])
            and not m["paused"]
        )

    @rule(requested=permission_sets, ticked=permission_sets)
    def allow(self, requested: frozenset[Permission], ticked: frozenset[Permission]) -> None:
        self.policy.grant(requested, ticked)
        both = requested & ticked
        self.model.update(
            consented=True, paused=False, control=Permission.VIEW in both and Permission.CONTROL in both
        )

    @rule(paused=st.booleans())
    def pause(self, paused: bool) -> None:
        # the session only pauses a granted control; the policy itself must still hold either way
        self.policy.paused = paused
        self.model["paused"] = paused

    @rule(sas=st.booleans(), required=st.booleans(), confirmed=st.booleans())
    def technician(self, sas: bool, required: bool, confirmed: bool) -> None:
        self.policy.technician(
            TechnicianConfirmed(sas_confirmed=sas, identity_required=required, identity_confirmed=confirmed)
        )
        self.model.update(tech_sas=sas, id_required=required, id_confirmed=confirmed)

    @rule()
    def end(self) -> None:
        self.policy.forget()
        self.model = self._fresh()

    @rule(message=valid_inputs)
    def valid_input(self, message: dict[str, Any]) -> None:
        verdict = self.policy.judge(json.dumps(message))
        assert verdict.allowed == self._allowed(), (self.model, verdict)
        if verdict.allowed:
            assert verdict.message is not None and verdict.message.type == message["type"]
        else:
            assert verdict.message is None and verdict.reason is not None

    @rule(raw=invalid_inputs)
    def invalid_input(self, raw: Any) -> None:
        data = raw if isinstance(raw, bytes | str) else json.dumps(raw)
        verdict = self.policy.judge(data)
        # text/bytes drawn at random may happen to be valid JSON input; only then may it pass
        if verdict.allowed:
            assert isinstance(raw, bytes | str) and self._allowed()
        else:
            assert verdict.message is None

    @invariant()
    def control_active_matches_the_model(self) -> None:
        assert self.policy.control_active == self._allowed()
        if self.policy.control_active:
            assert self.policy.waiting_for() == []


PolicyMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
test_policy_state_machine = PolicyMachine.TestCase
