"""The resume proof: bound to role, session, both fingerprints, the commitment and nB; a fixed
vector pins it (the console's JavaScript reproduces it in tests/unit/console/test_resume_js.py)."""

from __future__ import annotations

from veo.protocol import resume

KEY = bytes(range(100, 132))
FP_OFFER = ":".join(["AB"] * 32)
FP_ANSWER = ":".join(["CD"] * 32)
COMMITMENT = bytes(range(32)).hex()
NONCE_B = bytes(range(32, 64)).hex()
SESSION = "3f2a6c1e-0000-4000-8000-000000000001"
#: pinned, so that Python and JavaScript cannot drift together
VECTOR_CONSOLE = "bb033a21d8779a56a7e16460974207ce41d43c36ec67d5911798b4ac83156dba"


def _proof(**changes: str) -> str:
    args = {
        "role": "console",
        "session_id": SESSION,
        "fp_offer": FP_OFFER,
        "fp_answer": FP_ANSWER,
        "commitment_hex": COMMITMENT,
        "nonce_b_hex": NONCE_B,
    } | changes
    return resume.proof(KEY, **args)  # type: ignore[arg-type]


def test_the_fixed_vector() -> None:
    assert _proof() == VECTOR_CONSOLE


def test_every_input_changes_the_proof() -> None:
    base = _proof()
    assert _proof(role="agent") != base
    assert _proof(session_id=SESSION[:-1] + "2") != base
    assert _proof(fp_offer=":".join(["AC"] * 32)) != base
    assert _proof(fp_answer=":".join(["CE"] * 32)) != base
    assert _proof(fp_offer=FP_ANSWER, fp_answer=FP_OFFER) != base  # swapped
    assert _proof(commitment_hex=NONCE_B) != base
    assert _proof(nonce_b_hex=COMMITMENT) != base
    other_key = resume.new_key()
    assert resume.proof(other_key, "console", SESSION, FP_OFFER, FP_ANSWER, COMMITMENT, NONCE_B) != base


def test_fingerprint_case_and_colons_do_not_matter() -> None:
    assert _proof(fp_offer=FP_OFFER.lower()) == _proof()


def test_check_accepts_its_own_proof_only() -> None:
    good = _proof()
    args = (SESSION, FP_OFFER, FP_ANSWER, COMMITMENT, NONCE_B)
    assert resume.check(KEY, "console", good, *args)
    assert resume.check(KEY, "console", good.upper(), *args)
    assert not resume.check(KEY, "agent", good, *args)  # a reflected proof is not the other side's
    assert not resume.check(resume.new_key(), "console", good, *args)
    assert not resume.check(KEY, "console", "0" * 64, *args)
