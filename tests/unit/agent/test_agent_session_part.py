"""``veo agent --device-session`` reads its launch description from standard input: anything that
is not one ends with one sentence on standard error and exit 2 (the service's log shows it),
never a traceback, and nothing connects."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from veo.agent.device import session_part
from veo.agent.device.session_part import SpecProblem, read_spec

SPEC = {
    "server": "https://support.example",
    "code": "123456789",
    "secret": "d4" * 32,
    "session_id": "s1",
    "policy": "notify",
    "reason": "Printer jams",
    "technician_name": "Ana",
    "organization": "ACME IT",
    "device_name": "pc-7",
}


def test_a_launch_description_is_read() -> None:
    spec = read_spec(io.BytesIO(json.dumps(SPEC).encode()), "en")
    assert (spec.code, spec.policy, spec.reason) == ("123456789", "notify", "Printer jams")
    named = json.dumps({**SPEC, "technician_name": "Ana García"}, ensure_ascii=False).encode()
    assert read_spec(io.BytesIO(named), "en").technician_name == "Ana García"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "No session description on standard input"),
        ("   \n", "No session description on standard input"),
        ("{not json", "not valid JSON"),
        (json.dumps({**SPEC, "code": "12345"}), "check: code"),
        (json.dumps({**SPEC, "secret": "D4" * 32}), "check: secret"),
        (json.dumps({k: v for k, v in SPEC.items() if k != "secret"}), "check: secret"),
        (json.dumps({**SPEC, "policy": "always"}), "check: policy"),
        (json.dumps({k: v for k, v in SPEC.items() if k != "reason"}), "check: reason"),
        (json.dumps({**SPEC, "extra": 1}), "check: extra"),
        ("x" * (session_part.MAX_SPEC_BYTES + 10), "too long"),
    ],
)
def test_what_is_not_a_launch_description_is_said(text: str, said: str) -> None:
    with pytest.raises(SpecProblem, match=said):
        read_spec(io.BytesIO(text.encode()), "en")


def test_bytes_that_are_not_utf8_are_said() -> None:
    with pytest.raises(SpecProblem, match="not valid JSON"):
        read_spec(io.BytesIO(b"\xff\xfe{"), "en")


@pytest.mark.parametrize(
    "text",
    [
        "",
        json.dumps({**SPEC, "code": "abc"}),
        json.dumps({**SPEC, "server": "http://support.example"}),  # plain http off this computer
    ],
)
def test_bad_input_exits_2_with_one_sentence(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(lang="en")
    assert session_part.main(args, io.BytesIO(text.encode())) == 2
    err = capsys.readouterr().err
    assert err.startswith("veo agent: ") and err.count("\n") == 1
    assert "Traceback" not in err
