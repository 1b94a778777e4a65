"""SAS and commitment: fixed vectors that the console's JavaScript must reproduce too."""

from __future__ import annotations

import hashlib

from veo.protocol import sas

FP_OFFER = ":".join(["AB"] * 32)
FP_ANSWER = ":".join(["CD"] * 32)
NONCE_A = bytes(range(32))
NONCE_B = bytes(range(32, 64))

#: Shared with tests/unit/console (JavaScript) so both ends agree byte for byte.
VECTOR = {
    "fp_offer": FP_OFFER,
    "fp_answer": FP_ANSWER,
    "nonce_a": NONCE_A.hex(),
    "nonce_b": NONCE_B.hex(),
    "session_id": "3f2a6c1e-0000-4000-8000-000000000001",
}


def test_commitment_is_sha256_of_the_nonce() -> None:
    assert sas.commitment(NONCE_A) == hashlib.sha256(NONCE_A).hexdigest()
    assert sas.check_commitment(NONCE_A, sas.commitment(NONCE_A))
    assert not sas.check_commitment(NONCE_B, sas.commitment(NONCE_A))


def test_code_is_six_digits_and_deterministic() -> None:
    code = sas.sas_code(FP_OFFER, FP_ANSWER, NONCE_A, NONCE_B, VECTOR["session_id"])
    assert len(code) == 6 and code.isdigit()
    assert code == sas.sas_code(FP_OFFER, FP_ANSWER, NONCE_A, NONCE_B, VECTOR["session_id"])


def test_every_input_changes_the_code() -> None:
    base = sas.sas_code(FP_OFFER, FP_ANSWER, NONCE_A, NONCE_B, "s")
    assert sas.sas_code(FP_ANSWER, FP_OFFER, NONCE_A, NONCE_B, "s") != base
    assert sas.sas_code(FP_OFFER, FP_ANSWER, NONCE_B, NONCE_A, "s") != base
    assert sas.sas_code(FP_OFFER, FP_ANSWER, NONCE_A, NONCE_B, "t") != base


def test_fingerprint_is_read_from_sdp_text() -> None:
    sdp = "v=0\r\na=fingerprint:sha-512 00:11\r\na=fingerprint:sha-256 ab:cd:ef\r\n"
    assert sas.sha256_fingerprint(sdp) == "AB:CD:EF"


def test_display_groups_digits() -> None:
    assert sas.display("012345") == "012 345"
