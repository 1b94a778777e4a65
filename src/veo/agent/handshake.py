"""The agent's half of the SAS exchange (commit, reveal, derive), kept apart from the networking.

The agent draws ``nA`` and commits to it in the offer; it reveals ``nA`` only after the console's
``nB`` arrived in the answer, so a man in the middle cannot choose his nonce after seeing ours.
The SAS mixes the fingerprint the agent itself applied with the one written in the answer text
(not a re-serialised copy), which is what the console computes on its side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from veo.protocol import sas


@dataclass
class SasHandshake:
    """One session's nonces; :meth:`code` is defined once the answer arrived."""

    session_id: str
    nonce_a: bytes = field(default_factory=sas.new_nonce)
    nonce_b: bytes | None = None

    @property
    def commitment(self) -> str:
        return sas.commitment(self.nonce_a)

    @property
    def reveal_hex(self) -> str:
        if self.nonce_b is None:
            raise RuntimeError("nA may be revealed only after the answer's nonce arrived")
        return self.nonce_a.hex()

    def accept_answer(self, nonce_b_hex: str) -> None:
        self.nonce_b = bytes.fromhex(nonce_b_hex)

    def code(self, fp_offer: str, answer_sdp: str) -> str:
        """Six digits from our applied fingerprint and the answer's sha-256 fingerprint."""
        if self.nonce_b is None:
            raise RuntimeError("the SAS needs the answer's nonce")
        fp_answer = sas.sha256_fingerprint(answer_sdp)
        return sas.sas_code(fp_offer.upper(), fp_answer, self.nonce_a, self.nonce_b, self.session_id)
