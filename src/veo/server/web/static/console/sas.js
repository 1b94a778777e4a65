// The short authentication string (SAS), byte for byte as veo.protocol.sas computes it in Python.
//
// The agent commits to its nonce nA (C = SHA-256(nA)) before it sees ours (nB); we check the
// revealed nA against C, so a man in the middle gets one 1-in-10^6 guess. Both ends then derive six
// digits from the DTLS fingerprints each side really uses: if someone swapped the certificates the
// codes read aloud on the phone differ. Pure functions over WebCrypto; no DOM, so tests run it in node.

const SAS_INFO = "veo-sas-v1";
const FINGERPRINT = /^a=fingerprint:sha-256 ([0-9A-Fa-f:]+)\s*$/m;

function subtle() {
  const api = globalThis.crypto && globalThis.crypto.subtle;
  if (!api) throw new Error("WebCrypto is not available (the console needs HTTPS or localhost)");
  return api;
}

/** Lowercase hex of a byte array. */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Bytes of a hex string (colons allowed, as in fingerprints); throws on anything else. */
export function fromHex(text) {
  const clean = String(text).replace(/:/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new Error("not a hex string");
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A fresh random 32-byte nonce as lowercase hex (our nB). */
export function newNonce() {
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  return toHex(bytes);
}

/** The first sha-256 DTLS fingerprint of an SDP text, uppercase with colons; null when absent. */
export function sha256Fingerprint(sdp) {
  const match = FINGERPRINT.exec(String(sdp).replace(/\r\n/g, "\n"));
  return match ? match[1].toUpperCase() : null;
}

/** Whether SHA-256(nonce) equals the commitment received with the offer (constant-time compare). */
export async function checkCommitment(nonceHex, commitmentHex) {
  const digest = new Uint8Array(await subtle().digest("SHA-256", fromHex(nonceHex)));
  const expected = fromHex(String(commitmentHex).toLowerCase());
  if (expected.length !== digest.length) return false;
  let diff = 0;
  for (let i = 0; i < digest.length; i += 1) diff |= digest[i] ^ expected[i];
  return diff === 0;
}

/** Six digits from HKDF-SHA256(fp_offer || fp_answer || nA || nB, salt="", info="veo-sas-v1" || id). */
export async function sasCode(fpOffer, fpAnswer, nonceAHex, nonceBHex, sessionId) {
  const parts = [fromHex(fpOffer), fromHex(fpAnswer), fromHex(nonceAHex), fromHex(nonceBHex)];
  const material = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    material.set(part, at);
    at += part.length;
  }
  const info = new TextEncoder().encode(SAS_INFO + sessionId);
  const key = await subtle().importKey("raw", material, "HKDF", false, ["deriveBits"]);
  const bits = await subtle().deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info },
    key,
    32,
  );
  const value = new DataView(bits).getUint32(0, false);
  return String(value % 1000000).padStart(6, "0");
}

/** "123456" -> "123 456", easier to read aloud. */
export function displayCode(code) {
  return code ? `${code.slice(0, 3)} ${code.slice(3)}` : "";
}
