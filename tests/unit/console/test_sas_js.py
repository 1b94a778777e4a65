"""sas.js must compute exactly what veo.protocol.sas computes: the two codes are read aloud and compared."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from typing import Any

from veo.protocol import sas

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

SESSION_ID = "3f2a6c1e-0000-4000-8000-000000000001"


def _fingerprint(rng: random.Random) -> str:
    return ":".join(f"{rng.randrange(256):02X}" for _ in range(32))


def _vectors() -> list[dict[str, str]]:
    rng = random.Random(20261125)
    vectors = [
        {  # the fixed vector of tests/unit/protocol/test_sas.py
            "fp_offer": ":".join(["AB"] * 32),
            "fp_answer": ":".join(["CD"] * 32),
            "nonce_a": bytes(range(32)).hex(),
            "nonce_b": bytes(range(32, 64)).hex(),
            "session_id": SESSION_ID,
        }
    ]
    for i in range(24):
        vectors.append(
            {
                "fp_offer": _fingerprint(rng),
                "fp_answer": _fingerprint(rng).lower() if i % 2 else _fingerprint(rng),
                "nonce_a": rng.randbytes(32).hex(),
                "nonce_b": rng.randbytes(32).hex(),
                "session_id": f"session-{i}-ñ" if i % 3 == 0 else str(rng.getrandbits(64)),
            }
        )
    return vectors


def test_sas_code_matches_python_for_every_vector(run_js: RunJs) -> None:
    vectors = _vectors()
    got = run_js(
        """
        const { sasCode } = await mod("sas.js");
        const out = [];
        for (const v of data) {
          out.push(await sasCode(v.fp_offer, v.fp_answer, v.nonce_a, v.nonce_b, v.session_id));
        }
        return out;
        """,
        vectors,
    )
    expected = [
        sas.sas_code(
            v["fp_offer"],
            v["fp_answer"],
            bytes.fromhex(v["nonce_a"]),
            bytes.fromhex(v["nonce_b"]),
            v["session_id"],
        )
        for v in vectors
    ]
    assert got == expected
    assert expected[0] == "772790"  # pins the vector itself, so both sides cannot drift together


def test_commitment_check_accepts_the_nonce_and_rejects_others(run_js: RunJs) -> None:
    nonce = bytes(range(32))
    other = bytes(range(1, 33))
    commitment = hashlib.sha256(nonce).hexdigest()
    got = run_js(
        """
        const { checkCommitment } = await mod("sas.js");
        return [
          await checkCommitment(data.nonce, data.commitment),
          await checkCommitment(data.nonce, data.commitment.toUpperCase()),
          await checkCommitment(data.other, data.commitment),
          await checkCommitment(data.nonce, data.commitment.slice(0, 62)),
        ];
        """,
        {"nonce": nonce.hex(), "other": other.hex(), "commitment": commitment},
    )
    assert got == [True, True, False, False]


def test_fingerprint_is_read_from_raw_sdp_like_python(run_js: RunJs) -> None:
    sdps = [
        "v=0\r\na=fingerprint:sha-512 00:11\r\na=fingerprint:sha-256 ab:cd:ef\r\n",
        "v=0\r\na=fingerprint:sha-384 AA\r\n"
        "a=fingerprint:sha-256 01:02:03\r\na=fingerprint:sha-256 09:09\r\n",
        "v=0\na=fingerprint:sha-256 FE:DC\n",
    ]
    got = run_js(
        """
        const { sha256Fingerprint } = await mod("sas.js");
        const none = sha256Fingerprint("v=0\\r\\na=fingerprint:sha-1 00\\r\\n");
        return [...data.map((s) => sha256Fingerprint(s)), none];
        """,
        sdps,
    )
    assert got == [*(sas.sha256_fingerprint(s) for s in sdps), None]


def test_display_and_nonce_shape(run_js: RunJs) -> None:
    got = run_js(
        """
        const { displayCode, newNonce } = await mod("sas.js");
        const a = newNonce(), b = newNonce();
        return { shown: displayCode("012345"), a, different: a !== b };
        """,
    )
    assert got["shown"] == sas.display("012345")
    assert len(got["a"]) == 64 and int(got["a"], 16) >= 0 and got["a"] == got["a"].lower()
    assert got["different"]
