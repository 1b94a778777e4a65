// The resume proof, byte for byte as veo.protocol.resume computes it in Python.
//
// A lost connection is replaced by a new one whose DTLS certificates are new. The agent sent this
// tab a resume key inside the verified end-to-end channel (the server never sees it); on a resume
// offer each side MACs its role, the session id, both new fingerprints, the offer's commitment and
// our nonce under that key. A relay that swapped fingerprints makes the two MACs disagree. Pure
// functions over WebCrypto plus the tab's sessionStorage; no DOM, so tests run them in node.

import { fromHex, toHex } from "./sas.js";

const RESUME_INFO = "veo-resume-v1";
const HEX32 = /^[0-9a-f]{64}$/;
/** Both sides send a heartbeat on the data channel this often (veo.protocol.resume). */
export const HEARTBEAT_MS = 1000;
/** Silence after which the connection counts as lost (the issue asks for 5 s at most). */
export const LOST_AFTER_MS = 4000;

function subtle() {
  const api = globalThis.crypto && globalThis.crypto.subtle;
  if (!api) throw new Error("WebCrypto is not available (the console needs HTTPS or localhost)");
  return api;
}

function material(role, sessionId, fpOffer, fpAnswer, commitmentHex, nonceBHex) {
  const enc = new TextEncoder();
  const sid = enc.encode(sessionId);
  const parts = [
    enc.encode(RESUME_INFO),
    new Uint8Array([0]),
    enc.encode(role),
    new Uint8Array([0]),
    new Uint8Array([(sid.length >> 8) & 0xff, sid.length & 0xff]),
    sid,
    fromHex(fpOffer),
    fromHex(fpAnswer),
    fromHex(commitmentHex),
    fromHex(nonceBHex),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** HMAC-SHA256(key, role || session || fp_offer || fp_answer || C || nB) as lowercase hex. */
export async function resumeProof(keyHex, role, sessionId, fpOffer, fpAnswer, commitmentHex, nonceBHex) {
  const key = await subtle().importKey("raw", fromHex(keyHex), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await subtle().sign("HMAC", key, material(role, sessionId, fpOffer, fpAnswer, commitmentHex, nonceBHex));
  return toHex(new Uint8Array(mac));
}

/** Whether `proofHex` is `role`'s proof for this exchange (compared without an early exit). */
export async function checkResumeProof(keyHex, role, proofHex, sessionId, fpOffer, fpAnswer, commitmentHex, nonceBHex) {
  if (typeof proofHex !== "string" || !HEX32.test(proofHex.toLowerCase())) return false;
  const expected = await resumeProof(keyHex, role, sessionId, fpOffer, fpAnswer, commitmentHex, nonceBHex);
  const got = proofHex.toLowerCase();
  let diff = 0;
  for (let i = 0; i < expected.length; i += 1) diff |= expected.charCodeAt(i) ^ got.charCodeAt(i);
  return diff === 0;
}

function storageKey(sessionId) {
  return `veo-resume-key:${sessionId}`;
}

/** The resume key this tab holds for the session, or null (another tab or browser has none). */
export function loadResumeKey(sessionId, storage = globalThis.sessionStorage) {
  try {
    const value = storage ? storage.getItem(storageKey(sessionId)) : null;
    return value && HEX32.test(value) ? value : null;
  } catch {
    return null; // storage refused (privacy settings): resuming falls back to comparing a code
  }
}

/** Keep the key for this tab only: a reload keeps it, another browser never has it. */
export function storeResumeKey(sessionId, keyHex, storage = globalThis.sessionStorage) {
  if (!HEX32.test(String(keyHex))) return false;
  try {
    storage.setItem(storageKey(sessionId), keyHex);
    return true;
  } catch {
    return false;
  }
}

/** The session is over: nothing may resume it any more. */
export function forgetResumeKey(sessionId, storage = globalThis.sessionStorage) {
  try {
    if (storage) storage.removeItem(storageKey(sessionId));
  } catch {
    // nothing stored, nothing to forget
  }
}
