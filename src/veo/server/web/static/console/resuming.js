// Resuming a session on a new peer connection, the console's half (issue 13, docs/architecture.md).
//
// Three small pieces, each with one job, that console.js wires to the signaling, the peer and the
// data channel:
// - HeartbeatClock: when to send a `heartbeat` and when silence means the link is lost. It arms
//   itself on the first heartbeat heard, so an agent that sends none is never declared lost by
//   silence (the browser's connection state still is).
// - ResumeKeys: the resume key the agent sent inside the verified channel. Taken (for proofs, and
//   the tab's sessionStorage) only once THIS page verified the connection (its own "Codes match"
//   click, or a good proof), so a reload resumes and another browser cannot; until then it is
//   held apart, so a peer that proved nothing cannot plant a key of its own for the next resume.
// - answerProof / judgeReveal: the proof in our answer, and what the agent's reveal means:
//   "proof" (resume as before), "bad_proof" (refuse it: possibly intercepted), "code" (compare a
//   new code aloud: the agent had no proof to give, or ours was never sent).
// Pure over WebCrypto and an injectable storage: tests run them in node.

import { HEARTBEAT_MS, LOST_AFTER_MS, checkResumeProof, forgetResumeKey, loadResumeKey, resumeProof, storeResumeKey } from "./resume.js";
import { sha256Fingerprint } from "./sas.js";

const HEX32 = /^[0-9a-f]{64}$/;

/** When to say "I am here" and when the other side's silence means the link is gone (times in ms). */
export class HeartbeatClock {
  constructor({ everyMs = HEARTBEAT_MS, lostAfterMs = LOST_AFTER_MS } = {}) {
    this.everyMs = everyMs;
    this.lostAfterMs = lostAfterMs;
    this.running = false;
    this.armed = false;
    this.lost = false;
    this.lastHeard = 0;
    this.lastSent = -Infinity;
  }

  /** A data channel opened: start beating; silence counts only once the agent beat too. */
  start(now) {
    this.running = true;
    this.armed = false;
    this.lost = false;
    this.lastHeard = now;
    this.lastSent = -Infinity;
  }

  stop() {
    this.running = false;
    this.armed = false;
  }

  /** Any message is a sign of life; a `heartbeat` also says the agent beats, so silence means loss. */
  heard(now, isHeartbeat = false) {
    if (!this.running) return false;
    this.lastHeard = now;
    if (isHeartbeat) this.armed = true;
    const back = this.lost;
    this.lost = false;
    return back;
  }

  /** {send: a heartbeat is due, lost: the silence just became a loss (reported once)}. */
  tick(now) {
    if (!this.running) return { send: false, lost: false };
    // Due at 90 % of the interval: a hidden tab's timers wake on whole seconds, and a strict
    // "1000 ms since the last one" would then skip every other wake-up (a beat every 2 s).
    const send = now - this.lastSent >= this.everyMs * 0.9;
    if (send) this.lastSent = now;
    const silent = this.armed && now - this.lastHeard >= this.lostAfterMs;
    const lost = silent && !this.lost;
    if (silent) this.lost = true;
    return { send, lost };
  }
}

/** The session's resume key as this tab holds it. */
export class ResumeKeys {
  constructor(sessionId, storage = globalThis.sessionStorage) {
    this.sessionId = sessionId;
    this.storage = storage;
    this.key = loadResumeKey(sessionId, storage); // a reloaded tab keeps what it had verified
    this.verifiedHere = false;
    // A key that came on a connection not verified here (yet): held apart, never used for a proof.
    // Else a peer that proved nothing could hand us a key of its own first and "prove" it next time.
    this.pending = null;
  }

  /** A new peer connection: it is not verified on this page until its code or proof says so. */
  newConnection() {
    this.verifiedHere = false;
    this.pending = null;
  }

  /** The agent's `resume_key` on the data channel: taken once this connection is verified here. */
  received(key) {
    if (typeof key !== "string" || !HEX32.test(key)) return false;
    if (!this.verifiedHere) {
      this.pending = key; // the proof's check may still be under way: verified() takes it
      return true;
    }
    this.key = key;
    storeResumeKey(this.sessionId, key, this.storage);
    return true;
  }

  /** This page verified the connection (its own "Codes match", or a good proof): keep the key for a reload. */
  verified() {
    this.verifiedHere = true;
    if (this.pending) this.key = this.pending;
    this.pending = null;
    if (this.key) storeResumeKey(this.sessionId, this.key, this.storage);
  }

  /** The session is over: nothing may resume it any more. */
  forget() {
    this.key = null;
    this.pending = null;
    this.verifiedHere = false;
    forgetResumeKey(this.sessionId, this.storage);
  }
}

function fingerprints(exchange) {
  const fpOffer = sha256Fingerprint(exchange.offerSdp);
  const fpAnswer = sha256Fingerprint(exchange.answerSdp);
  return fpOffer && fpAnswer ? { fpOffer, fpAnswer } : null;
}

/**
 * Our proof for a resume offer's answer, or null (no key: the agent falls back to a new code).
 * The key used is remembered on the exchange: the reveal is checked under the same one.
 */
export async function answerProof(key, sessionId, exchange) {
  const fps = fingerprints(exchange);
  if (!key || !fps) return null;
  const proof = await resumeProof(key, "console", sessionId, fps.fpOffer, fps.fpAnswer, exchange.commitment, exchange.nonceB);
  exchange.proofKey = key;
  return proof;
}

/**
 * What the agent's reveal of a resume exchange means.
 * - "code": we sent no proof, or the reveal carries none (the agent had no key to answer ours, or
 *   something in between stripped it): the codes are compared again, as on a first connection.
 * - "proof": the agent proved the key over these fingerprints: the same verified peer is back.
 * - "bad_proof": a proof that does not check out: refuse the connection (it may be intercepted).
 */
export async function judgeReveal(sessionId, exchange, revealProof) {
  if (!exchange.proofKey) return "code";
  if (revealProof === undefined || revealProof === null || revealProof === "") return "code";
  const fps = fingerprints(exchange);
  if (!fps) return "bad_proof";
  const ok = await checkResumeProof(
    exchange.proofKey,
    "agent",
    revealProof,
    sessionId,
    fps.fpOffer,
    fps.fpAnswer,
    exchange.commitment,
    exchange.nonceB,
  );
  return ok ? "proof" : "bad_proof";
}

/**
 * Runs a HeartbeatClock on a real timer for one data channel at a time: `send()` a heartbeat when
 * due, `onLost()` once when the agent's heartbeat falls silent.
 */
export class LinkWatch {
  constructor({ send, onLost, now = () => Date.now(), tickMs = 250 }) {
    this.clock = new HeartbeatClock();
    this.send = send;
    this.onLost = onLost;
    this.now = now;
    this.tickMs = tickMs;
    this.timer = null;
  }

  start() {
    this.stop();
    this.clock.start(this.now());
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.tick();
  }

  tick() {
    const { send, lost } = this.clock.tick(this.now());
    if (send) this.send();
    if (lost) this.onLost();
  }

  /** A message arrived; true when it ended a silence that had been reported as a loss. */
  heard(isHeartbeat) {
    return this.clock.heard(this.now(), isHeartbeat);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clock.stop();
  }
}
