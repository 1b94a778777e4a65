// One state object for the whole console, and the pure functions that derive what the page shows.
//
// Every event (signaling, peer, data channel, button) changes this object and then the view renders
// it whole; nothing else writes to the DOM. That keeps the DOM ids the end-to-end tests read
// (#conn-state, #control-state, #sas-code ...) consistent with each other at every instant.

/** A fresh state for a session the server rendered with `status`. */
export function createState({ status = "waiting", requested = [], expiresAt = null } = {}) {
  const over = status === "ended" || status === "expired";
  return {
    status, // the server's view: waiting|joined|connecting|active|ended|expired
    agentConnected: status === "joined" || status === "connecting" || status === "active",
    agent: null, // {platform, language, address} from agent_joined
    mode: "agent", // "browser": the user shares from the join page (view only, no control)
    requested: [...requested],
    offerReceived: false,
    peer: "new", // RTCPeerConnection.connectionState
    consented: status === "active",
    sas: "", // six digits once the commitment checked out
    screen: null, // {width, height} announced by the agent
    granted: [],
    control: { granted: [], paused: false, active: false, waitingFor: [] }, // the agent's last `control`
    technicianSasConfirmed: false, // we clicked "Codes match" (as the server recorded it)
    identityRequired: false, // the role's policy wants the user's identity confirmed before control
    identity: null, // how the identity was confirmed, once recorded
    pausedByUser: false, // from signaling control_state
    dropped: "", // reason of the last message the agent refused
    ending: false, // we asked to end and wait for `ended`
    ended: over ? { by: "system", reason: status === "expired" ? "expired" : "" } : null,
    aborted: false,
    abortReason: "", // sas_commitment_mismatch | sas_mismatch
    error: "", // text for #error-banner
    signalingDown: false, // the socket to the server dropped and is being re-opened
    frames: false, // the video shows a decoded picture
    notice: null, // {key, params}: a brief notice over the video (e.g. an input that was not sent)
    startedAt: null, // when the user allowed the session (Date), for its length at the end
    endedAt: null,
    expiresAt,
    // Resume after a drop (resuming.js): the link to the user's computer and what brings it back.
    interrupted: false, // the server says the connection is lost and the grant waits (session_state)
    resumeDeadline: null, // when the server ends the session unless the connection comes back (Date)
    linkLost: false, // this page noticed it: heartbeat silence, or the peer disconnected or failed
    resuming: false, // a resume offer is being answered and its proof is not yet checked
    reverify: false, // the new connection needs a new code comparison (no proof on one side)
    awaitingResume: false, // the page was (re)loaded in an allowed session: the agent's resume offer comes
    elsewhere: false, // another tab of this session took the exchange this page answered (stepAside)
    desktop: null, // {backend, control, limits} from the agent's `desktop` message (desktop.js)
    // A session on a managed device (issue 17): {name, policy, reason}. The device proved itself to
    // the server with its key, so there is no code to compare on its first connection: no
    // verification step, control does not wait for "Codes match", and the resume key is kept once
    // the session is allowed (a resume without proof still compares a new code: `reverify`).
    device: null,
  };
}

/**
 * Another console of this session (a second tab) took the exchange this page answered: this page
 * has no connection of its own, shows no code and sends nothing, and says calmly where the session
 * went until the agent's next offer (which it answers again, e.g. once the other tab is closed).
 */
export function stepAside(s) {
  s.elsewhere = true;
  s.sas = "";
  s.peer = "closed";
  s.frames = false;
  s.resuming = false;
  s.linkLost = false;
  s.reverify = false;
  s.control = { ...s.control, active: false };
}

/** #conn-state: waiting|joined|connecting|connected|active|ended|aborted. */
export function connectionState(s) {
  if (s.aborted) return "aborted";
  if (s.ended) return "ended";
  const peerUp = s.peer === "connected";
  if (peerUp && (s.consented || s.status === "active")) return "active";
  if (peerUp) return "connected";
  if (s.offerReceived || s.status === "connecting" || s.status === "active") return "connecting";
  if (s.agentConnected || s.status === "joined") return "joined";
  return "waiting";
}

/**
 * Whether the user's allowed session has lost its link to the user's computer: the server says
 * so, this page noticed it, a resume offer is not settled yet, or a reloaded page waits for one.
 */
export function linkDown(s) {
  if (s.ended || s.aborted || !s.consented) return false;
  if (s.interrupted || s.linkLost || s.resuming) return true;
  // a browser share (the join page) does not resume: its reloaded console shows what it did before
  if (s.awaitingResume && s.mode === "agent") return true;
  return s.peer === "disconnected" || s.peer === "failed";
}

/**
 * The session's state as the header's badge shows it:
 * waiting | joined | verifying | active | paused | reconnecting | elsewhere | ended.
 *
 * "verifying" lasts from the verification code until both sides confirmed it (the user by
 * allowing the session under it, the technician with "Codes match"), and again when a new
 * connection could not prove it is the verified one (`reverify`); "paused" is the user's Pause
 * control; "reconnecting" is a dropped link to the server or to the user's computer; "elsewhere":
 * another tab of this session carries it (stepAside).
 */
export function sessionPhase(s) {
  const conn = connectionState(s);
  if (conn === "ended" || conn === "aborted") return "ended";
  if (s.signalingDown) return "reconnecting";
  if (s.elsewhere) return "elsewhere";
  if (s.reverify && s.sas) return "verifying";
  if (linkDown(s) || (s.peer === "disconnected" && s.offerReceived)) return "reconnecting";
  if (conn === "waiting") return "waiting";
  if (controlState(s) === "paused") return "paused";
  if (!s.device && s.sas && (!s.consented || !s.technicianSasConfirmed)) return "verifying";
  if (conn === "active") return "active";
  return "joined";
}

/**
 * Whether a new code comparison (after a resume without proof) is over, on a new session_state:
 * the server said the connection is back ("resumed"), or this page's own "Codes match" is
 * recorded and nothing is interrupted (a server that never marked the drop). Until then the
 * verification step stays and nothing is sent; the agent waits for the user's confirmation too.
 */
export function reverifyDone(s, wasInterrupted) {
  if (!s.reverify) return false;
  return (wasInterrupted && !s.interrupted) || (s.technicianSasConfirmed && !s.interrupted);
}

/** A session_state's or the page's `device` as this console keeps it, or null (a typed-code session). */
export function deviceFrom(value) {
  if (!value || typeof value !== "object") return null;
  const policies = ["ask", "notify", "unattended"];
  const name = typeof value.device_name === "string" ? value.device_name : "";
  if (!name || !policies.includes(value.policy)) return null;
  return { name, policy: value.policy, reason: typeof value.reason === "string" ? value.reason : "" };
}

/**
 * Whether this page may take a managed device's connection as verified now (and keep the agent's
 * resume key): the session is allowed and the connection's commitment checked out. A typed-code
 * session never is: it waits for "Codes match" or a good resume proof.
 */
export function deviceConnectionTrusted(s, exchange) {
  if (!s.device || !s.consented || s.ended || s.aborted) return false;
  return Boolean(exchange && exchange.trusted);
}

/** #control-state: active (input is sent), paused (by the user), off (not granted, or not yet). */
export function controlState(s) {
  if (s.aborted || s.ended || s.elsewhere || linkDown(s) || s.reverify) return "off";
  if (s.pausedByUser || s.control.paused) {
    return s.control.granted.includes("control") || s.granted.includes("control") ? "paused" : "off";
  }
  return s.control.active ? "active" : "off";
}

/** Whether input may go to the agent right now: only while its last `control` said active. */
export function inputAllowed(s) {
  return controlState(s) === "active";
}

/** Seconds left on the join code (never negative); null when unknown. */
export function secondsLeft(expiresAt, nowMs) {
  if (!expiresAt) return null;
  return Math.max(0, Math.floor((expiresAt.getTime() - nowMs) / 1000));
}

/** "9:05" for 545 seconds. */
export function formatCountdown(seconds) {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}

/** Why control is not active yet although the user granted it: keys of the "waiting.*" strings. */
export function controlWaitingFor(s) {
  if (s.aborted || s.ended || controlState(s) !== "off") return [];
  const granted = s.control.granted.length ? s.control.granted : s.granted;
  if (!granted.includes("control")) return [];
  // a managed device's session has no code to confirm: its agent never waits for one
  const known = s.device ? ["consent", "identity"] : ["consent", "technician_sas", "identity"];
  return (s.control.waitingFor || []).filter((w) => known.includes(w));
}
