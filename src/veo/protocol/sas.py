"""The short authentication string (SAS) both ends read aloud, with a commitment (as ZRTP).

The agent (always the offerer) commits to ``nA`` with ``C = SHA-256(nA)`` in its offer, learns the
console's ``nB`` from the answer, and only then reveals ``nA``. A man in the middle who swapped the
DTLS fingerprints must fix his own nonces before seeing the other side's, so he gets a single
1-in-10^6 guess at a matching code.

The console computes the same in JavaScript (``static/console/sas.js``); the test vectors in
``tests/unit/protocol/test_sas.py`` keep the two in step.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SAS_INFO = b"veo-sas-v1"
_FINGERPRINT = re.compile(r"^a=fingerprint:sha-256 ([0-9A-Fa-f:]+)\s*$", re.MULTILINE)


def new_nonce() -> bytes:
    return secrets.token_bytes(32)


def commitment(nonce: bytes) -> str:
    return hashlib.sha256(nonce).hexdigest()


def check_commitment(nonce: bytes, expected_hex: str) -> bool:
    return hmac.compare_digest(commitment(nonce), expected_hex.lower())


def sha256_fingerprint(sdp: str) -> str:
    """The first ``sha-256`` DTLS fingerprint of an SDP, uppercase with colons."""
    match = _FINGERPRINT.search(sdp)
    if match is None:
        raise ValueError("SDP has no sha-256 fingerprint")
    return match.group(1).upper()


def fingerprint_bytes(fingerprint: str) -> bytes:
    return bytes.fromhex(fingerprint.replace(":", ""))


def sas_code(fp_offer: str, fp_answer: str, nonce_a: bytes, nonce_b: bytes, session_id: str) -> str:
    """Six digits from HKDF-SHA256(fp_offer || fp_answer || nA || nB, info="veo-sas-v1" || id)."""
    material = fingerprint_bytes(fp_offer) + fingerprint_bytes(fp_answer) + nonce_a + nonce_b
    derived = HKDF(
        algorithm=hashes.SHA256(), length=4, salt=None, info=SAS_INFO + session_id.encode()
    ).derive(material)
    return f"{int.from_bytes(derived, 'big') % 1_000_000:06d}"


def display(code: str) -> str:
    """``123456`` -> ``123 456``, easier to read aloud."""
    return f"{code[:3]} {code[3:]}"
