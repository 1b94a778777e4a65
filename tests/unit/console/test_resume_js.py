"""resume.js must compute exactly what veo.protocol.resume computes: each side checks the other's proof."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from tests.unit.protocol.test_resume import VECTOR_CONSOLE

from veo.protocol import resume

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py


def _vectors() -> list[dict[str, str]]:
    rng = random.Random(20261206)
    vectors = [
        {
            "key": bytes(range(100, 132)).hex(),
            "role": "console",
            "session_id": "3f2a6c1e-0000-4000-8000-000000000001",
            "fp_offer": ":".join(["AB"] * 32),
            "fp_answer": ":".join(["CD"] * 32),
            "commitment": bytes(range(32)).hex(),
            "nonce_b": bytes(range(32, 64)).hex(),
        }
    ]
    for i in range(16):
        fp = lambda: ":".join(f"{rng.randrange(256):02X}" for _ in range(32))  # noqa: E731
        vectors.append(
            {
                "key": rng.randbytes(32).hex(),
                "role": "agent" if i % 2 else "console",
                "session_id": f"sesión-{i}" if i % 3 == 0 else str(rng.getrandbits(64)),
                "fp_offer": fp(),
                "fp_answer": fp().lower(),
                "commitment": rng.randbytes(32).hex(),
                "nonce_b": rng.randbytes(32).hex(),
            }
        )
    return vectors


def test_proofs_match_python_for_every_vector(run_js: RunJs) -> None:
    vectors = _vectors()
    got = run_js(
        """
        const { resumeProof } = await mod("resume.js");
        const out = [];
        for (const v of data) {
          const args = [v.session_id, v.fp_offer, v.fp_answer, v.commitment, v.nonce_b];
          out.push(await resumeProof(v.key, v.role, ...args));
        }
        return out;
        """,
        vectors,
    )
    expected = [
        resume.proof(
            bytes.fromhex(v["key"]),
            v["role"],  # type: ignore[arg-type]
            v["session_id"],
            v["fp_offer"],
            v["fp_answer"],
            v["commitment"],
            v["nonce_b"],
        )
        for v in vectors
    ]
    assert got == expected
    assert expected[0] == VECTOR_CONSOLE


def test_check_refuses_another_role_a_wrong_key_and_garbage(run_js: RunJs) -> None:
    v = _vectors()[0]
    agent_proof = resume.proof(
        bytes.fromhex(v["key"]),
        "agent",
        v["session_id"],
        v["fp_offer"],
        v["fp_answer"],
        v["commitment"],
        v["nonce_b"],
    )
    got = run_js(
        """
        const { checkResumeProof } = await mod("resume.js");
        const v = data.v;
        const args = [v.session_id, v.fp_offer, v.fp_answer, v.commitment, v.nonce_b];
        return [
          await checkResumeProof(data.v.key, "agent", data.proof, ...args),
          await checkResumeProof(data.v.key, "agent", data.proof.toUpperCase(), ...args),
          await checkResumeProof(data.v.key, "console", data.proof, ...args),
          await checkResumeProof("00".repeat(32), "agent", data.proof, ...args),
          await checkResumeProof(data.v.key, "agent", "not hex", ...args),
          await checkResumeProof(data.v.key, "agent", null, ...args),
        ];
        """,
        {"v": v, "proof": agent_proof},
    )
    assert got == [True, True, False, False, False, False]


def test_the_key_is_kept_per_tab_and_only_when_well_formed(run_js: RunJs) -> None:
    got = run_js(
        """
        const { loadResumeKey, storeResumeKey, forgetResumeKey } = await mod("resume.js");
        const map = new Map();
        const storage = {
          getItem: (k) => map.get(k) ?? null,
          setItem: (k, v) => map.set(k, v),
          removeItem: (k) => map.delete(k),
        };
        const deny = () => { throw new Error("denied"); };
        const refusing = { getItem: deny, setItem: deny };
        const key = "ab".repeat(32);
        return [
          loadResumeKey("s1", storage),
          storeResumeKey("s1", "nothex", storage),
          storeResumeKey("s1", key, storage),
          loadResumeKey("s1", storage),
          loadResumeKey("s2", storage),
          (forgetResumeKey("s1", storage), loadResumeKey("s1", storage)),
          storeResumeKey("s1", key, refusing),
          loadResumeKey("s1", refusing),
        ];
        """,
        {},
    )
    assert got == [None, False, True, "ab" * 32, None, None, False, None]
