"""The agent's SAS commitment, reveal and code, checked against the protocol's own functions."""

from __future__ import annotations

import hashlib

import pytest

from veo.agent.handshake import SasHandshake
from veo.protocol import sas

FP_A = ":".join(["AB"] * 32)
FP_B = ":".join(["cd"] * 32)
ANSWER_SDP = f"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\na=fingerprint:sha-256 {FP_B}\r\na=setup:active\r\n"


def test_commitment_is_sha256_of_the_nonce() -> None:
    handshake = SasHandshake("s-1")
    assert len(handshake.nonce_a) == 32
    assert handshake.commitment == hashlib.sha256(handshake.nonce_a).hexdigest()
    assert sas.check_commitment(handshake.nonce_a, handshake.commitment)


def test_reveal_only_after_the_answer() -> None:
    handshake = SasHandshake("s-1")
    with pytest.raises(RuntimeError):
        _ = handshake.reveal_hex
    with pytest.raises(RuntimeError):
        handshake.code(FP_A, ANSWER_SDP)
    handshake.accept_answer("11" * 32)
    assert bytes.fromhex(handshake.reveal_hex) == handshake.nonce_a


def test_code_matches_what_the_console_computes() -> None:
    nonce_a, nonce_b = bytes(range(32)), bytes(range(32, 64))
    handshake = SasHandshake("session-42", nonce_a=nonce_a)
    handshake.accept_answer(nonce_b.hex())
    code = handshake.code(FP_A.lower(), ANSWER_SDP)
    assert code == sas.sas_code(FP_A, FP_B.upper(), nonce_a, nonce_b, "session-42")
    assert len(code) == 6 and code.isdigit()
    other = SasHandshake("session-43", nonce_a=nonce_a)
    other.accept_answer(nonce_b.hex())
    assert other.code(FP_A, ANSWER_SDP) != code  # the session id is part of the derivation


def test_answer_without_fingerprint_is_an_error() -> None:
    handshake = SasHandshake("s")
    handshake.accept_answer("00" * 32)
    with pytest.raises(ValueError, match="fingerprint"):
        handshake.code(FP_A, "v=0\r\n")
