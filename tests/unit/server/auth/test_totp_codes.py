"""TOTP codes: the current code passes once, neighbours within one step pass, replays never do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp

from veo.server.auth import totp_seal
from veo.server.auth.models import TotpCredential
from veo.server.auth.totp import _accept_code, secret_of

NOW = datetime(2026, 11, 25, 9, 0, 10, tzinfo=UTC)


def _credential() -> TotpCredential:
    sealed = totp_seal.active().seal(pyotp.random_base32(), 1)
    return TotpCredential(user_id=1, secret=sealed, last_step=None)


def _code(row: TotpCredential, at: datetime) -> str:
    secret = secret_of(row)
    assert secret is not None
    return pyotp.TOTP(secret).at(at)


def test_current_code_is_accepted_once() -> None:
    row = _credential()
    code = _code(row, NOW)
    assert _accept_code(row, code, NOW)
    assert not _accept_code(row, code, NOW), "the same code twice within its window"
    assert not _accept_code(row, code, NOW + timedelta(seconds=20))


def test_an_older_code_is_refused_after_a_newer_one() -> None:
    row = _credential()
    assert _accept_code(row, _code(row, NOW), NOW)
    previous = _code(row, NOW - timedelta(seconds=30))
    assert not _accept_code(row, previous, NOW)


def test_one_step_of_clock_drift_either_way() -> None:
    row = _credential()
    assert _accept_code(row, _code(row, NOW - timedelta(seconds=30)), NOW)
    assert _accept_code(row, _code(row, NOW + timedelta(seconds=30)), NOW)
    far = _credential()
    assert not _accept_code(far, _code(far, NOW + timedelta(seconds=90)), NOW)


def test_spaces_are_ignored_and_junk_is_refused() -> None:
    row = _credential()
    code = _code(row, NOW)
    assert not _accept_code(row, "abcdef", NOW)
    assert not _accept_code(row, "", NOW)
    assert not _accept_code(row, code + "1", NOW)
    assert _accept_code(row, f"{code[:3]} {code[3:]}", NOW)
