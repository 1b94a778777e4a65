"""The parts of ``veo doctor`` that need no server: URLs shown without passwords, TURN URL
addresses, coturn's version, and which findings make the exit status non-zero."""

from __future__ import annotations

import json

import pytest

from veo.protocol.ice_urls import IceUrlError, address
from veo.server.doctor import database, redis_nodes
from veo.server.doctor.report import Finding, Status, as_json, as_text, exit_status, fail, info, ok, warn
from veo.server.doctor.turn import FIXED_VERSION, parse_version


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("turn:turn.example.org", ("turn.example.org", 3478)),
        ("turn:turn.example.org:3479?transport=tcp", ("turn.example.org", 3479)),
        ("turns:turn.example.org?transport=tcp", ("turn.example.org", 5349)),
        ("turns:[2001:db8::1]:443?transport=tcp", ("2001:db8::1", 443)),
        ("stun:192.0.2.1:19302", ("192.0.2.1", 19302)),
    ],
)
def test_each_url_names_the_host_and_port_the_doctor_contacts(url: str, expected: tuple[str, int]) -> None:
    assert address(url) == expected


def test_an_unusable_url_is_refused_as_at_start_up() -> None:
    with pytest.raises(IceUrlError):
        address("http://turn.example.org")


def test_passwords_never_appear_in_the_urls_shown() -> None:
    assert database.shown_url("postgresql+psycopg://veo:s3cret@db:5432/veo") == (
        "postgresql+psycopg://veo:***@db:5432/veo"
    )
    assert redis_nodes._shown("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redis_nodes._shown("rediss://veo:s3cret@redis:6380/0") == "rediss://veo:***@redis:6380/0"
    assert redis_nodes._shown("redis://redis:6379/0") == "redis://redis:6379/0"


def test_coturns_software_attribute_gives_its_version() -> None:
    assert parse_version("Coturn-4.6.1 'Gorst'") == (4, 6, 1)
    newer = parse_version("Coturn-4.10.0 'dan Eider'")
    assert newer is not None and newer > FIXED_VERSION > (4, 6, 1)
    assert parse_version("eturnal/1.12.0") is None


def test_only_warnings_and_problems_make_the_exit_status_non_zero() -> None:
    quiet = [ok("database", "reachable."), info("redis", "not set.", "set it.")]
    assert exit_status(quiet) == 0
    assert exit_status([*quiet, warn("certificate", "expires soon.", "renew it.")]) == 1
    assert exit_status([*quiet, fail("keys", "missing.", "restore it.")]) == 1
    assert json.loads(as_json(quiet))["ok"] is True
    assert json.loads(as_json([fail("keys", "missing.", "restore it.")]))["ok"] is False


def test_one_line_per_finding_each_problem_with_what_to_do() -> None:
    findings = [
        Finding("database", Status.OK, "reachable."),
        Finding("turn turn:t.example.org", Status.FAIL, "no answer from t.example.org:3478", "check coturn."),
        Finding("node ab12", Status.WARN, "the clock of h is 3.0 s off Redis' clock.", "run NTP."),
    ]
    lines = as_text(findings).splitlines()
    assert lines == [
        "[OK]       database: reachable.",
        "[PROBLEM]  TURN turn:t.example.org: no answer from t.example.org:3478. What to do: check coturn.",
        "[WARNING]  node ab12: the clock of h is 3.0 s off Redis' clock. What to do: run NTP.",
    ]
