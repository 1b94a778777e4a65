"""Resuming a session on a new WebRTC connection without asking the user again, safely.

aiortc has no ICE restart, so a lost connection is replaced by a new ``RTCPeerConnection`` on the
same session, with new DTLS certificates. Its fingerprints are new, so they need new proof that
the other end is the same peer the user and the technician verified with the code read aloud.

The proof is a MAC under a **resume key** that the server never sees: the agent draws the key and
sends it to the console *inside* the end-to-end data channel (``resume_key``), only once that
connection is verified (the user's Allow under the code and the technician's "Codes match", or
an earlier proof). The console keeps it for the tab (``sessionStorage``), so a reloaded console
can resume and a console opened in another browser cannot.

On a resume offer (``offer.resume``) each side proves knowledge of the key over everything that
makes this exchange unique, in order: its role, the session id, the fingerprint the offer carries,
the fingerprint the answer carries, the offer's commitment ``C`` and the answer's nonce ``nB``:

* the console, in ``answer.resume_proof`` (it knows ``C`` and its own ``nB``);
* the agent, in ``reveal.resume_proof``, only after the console's proof checked out.

A relay that swaps fingerprints makes the two sides MAC different fingerprints, so each side's
check fails; a proof from an earlier connection names other fingerprints and another ``C``.
A proof that is *present and wrong* is refused (``resume_refused``), audited and counted: after
:data:`MAX_BAD_PROOFS` the session ends. A proof that is *absent* (no key: another browser, or
the session was never verified) falls back to comparing a new code aloud, which a swapped pair
passes with probability 10^-6, as on the first connection.

The console computes the same in JavaScript (``static/console/resume.js``);
``tests/unit/console/test_resume_js.py`` keeps the two byte for byte in step.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Literal

from veo.protocol.sas import fingerprint_bytes

RESUME_INFO = b"veo-resume-v1"
Role = Literal["agent", "console"]

#: Every end-to-end heartbeat interval: both sides send ``heartbeat`` on the data channel.
HEARTBEAT_SECONDS = 1.0
#: Silence on the data channel after which a side treats the connection as lost (aioice alone
#: takes ~30 s to notice; the issue asks for 5 s at most).
LOST_AFTER_SECONDS = 4.0
#: Refused proofs that end a session: the third one ends it (``resume_failed``).
MAX_BAD_PROOFS = 3
#: The role policy's default: how long the user's grant waits for a lost connection to come back.
DEFAULT_GRACE_SECONDS = 120
#: The longest grace period a policy may set.
MAX_GRACE_SECONDS = 600
#: Resume offers the server relays per session and minute (each one costs both peers an ICE run).
MAX_RESUME_OFFERS_PER_MINUTE = 12


def new_key() -> bytes:
    """A fresh 32-byte resume key (the agent draws it once per session)."""
    return secrets.token_bytes(32)


def _material(
    role: Role, session_id: str, fp_offer: str, fp_answer: str, commitment_hex: str, nonce_b_hex: str
) -> bytes:
    sid = session_id.encode()
    return b"".join(
        (
            RESUME_INFO,
            b"\x00",
            role.encode(),
            b"\x00",
            len(sid).to_bytes(2, "big"),
            sid,
            fingerprint_bytes(fp_offer),
            fingerprint_bytes(fp_answer),
            bytes.fromhex(commitment_hex),
            bytes.fromhex(nonce_b_hex),
        )
    )


def proof(
    key: bytes,
    role: Role,
    session_id: str,
    fp_offer: str,
    fp_answer: str,
    commitment_hex: str,
    nonce_b_hex: str,
) -> str:
    """HMAC-SHA256 under the resume key over role, session, both fingerprints, ``C`` and ``nB`` (hex)."""
    material = _material(role, session_id, fp_offer, fp_answer, commitment_hex, nonce_b_hex)
    return hmac.new(key, material, hashlib.sha256).hexdigest()


def check(
    key: bytes,
    role: Role,
    proof_hex: str,
    session_id: str,
    fp_offer: str,
    fp_answer: str,
    commitment_hex: str,
    nonce_b_hex: str,
) -> bool:
    """Whether ``proof_hex`` is ``role``'s proof for this exchange (constant-time compare)."""
    expected = proof(key, role, session_id, fp_offer, fp_answer, commitment_hex, nonce_b_hex)
    return hmac.compare_digest(expected, proof_hex.lower())
