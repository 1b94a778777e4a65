// The technician console: wires signaling, the peer connection, the SAS check, the display and the
// input modules to one state object, and renders it after every change.
//
// Security-relevant order (docs/architecture.md): answer with a fresh nonce nB only after applying
// the offer; on `reveal` check SHA-256(nA) against the offer's commitment before deriving the SAS,
// and abort on a mismatch; send input only while the agent's last `control` message says active.
// A lost connection comes back as a resume offer on a new peer connection (resuming.js): consent
// and grant stand, and the new connection is trusted only by a proof under the resume key or by a
// new code comparison.

import { install as installAnnotate } from "./annotate.js";
import { install as installCursor } from "./cursor.js";
import { install as installDesktop } from "./desktop.js";
import { install as installChat } from "./chat.js";
import { install as installClipboard } from "./clipboard.js";
import { install as installFiles } from "./files.js";
import { loadStrings, t } from "./i18n.js";
import { KeyboardInput } from "./keyboard.js";
import { install as installKeys } from "./keys.js";
import { MouseInput } from "./mouse.js";
import { install as installMonitors } from "./monitors.js";
import { install as installPermissions } from "./permissions.js";
import { install as installNote } from "./note.js";
import { install as installPanel } from "./panel.js";
import { DATA_CHANNEL_LABEL, Peer } from "./peer.js";
import { LinkWatch, ResumeKeys, answerProof, judgeReveal } from "./resuming.js";
import { checkCommitment, newNonce, sasCode, sha256Fingerprint } from "./sas.js";
import { Signaling, answerNotTaken } from "./signaling.js";
import { install as installSysinfo } from "./sysinfo.js";
import { install as installZoom } from "./zoom.js";
import { RemoteDisplay } from "./display.js";
import {
  connectionState,
  controlState,
  createState,
  deviceConnectionTrusted,
  deviceFrom,
  inputAllowed,
  linkDown,
  reverifyDone,
  sessionPhase,
  stepAside,
} from "./state.js";
import { ConsoleView, droppedKey, notSentKey } from "./ui.js";

/**
 * Feature modules: each `install(console)` registers its data handlers and wires its panel.
 * The tools panel comes after the features whose tabs it shows (it labels the chat tab).
 */
const FEATURES = [
  installDesktop,
  installMonitors,
  installAnnotate,
  installChat,
  installSysinfo,
  installCursor,
  installZoom,
  installClipboard,
  installFiles,
  installPermissions,
  installKeys,
  installNote,
  installPanel,
];
/** Messages of an unproven resume connection kept until this page verified it (then shown). */
const HELD_DATA_MAX = 500;
/** How long a notice over the video (an input that was not sent) stays. */
const NOTICE_MS = 3000;
/** After a resume, how long the link waits for the new video's first picture before it counts as back anyway. */
const FIRST_PICTURE_MS = 3000;

const HEX32 = /^[0-9a-f]{64}$/;
const PERMISSIONS = ["view", "control", "clipboard", "files"];

function permissionsFrom(value) {
  return Array.isArray(value) ? value.filter((p) => PERMISSIONS.includes(p)) : [];
}

function readJsonAttribute(el, name, fallback) {
  try {
    const value = el.dataset[name];
    return value ? JSON.parse(value) : fallback;
  } catch {
    return fallback;
  }
}

/** The code's expiry; a time without a zone is UTC (the server stores UTC), not the browser's zone. */
function parseDate(text) {
  if (!text) return null;
  const zoned = /(Z|[+-]\d\d:?\d\d)$/.test(text) ? text : `${text}Z`;
  const date = new Date(zoned);
  return Number.isNaN(date.getTime()) ? null : date;
}

export class Console {
  constructor(doc) {
    loadStrings(doc);
    const root = doc.getElementById("console");
    this.sessionId = root.dataset.sessionId;
    this.state = createState({
      status: root.dataset.status || "waiting",
      requested: permissionsFrom(readJsonAttribute(root, "requested", [])),
      expiresAt: parseDate(root.dataset.expiresAt),
    });
    this.state.device = deviceFrom(readJsonAttribute(root, "device", null));
    this.state.startedAt = parseDate(root.dataset.startedAt);
    this.state.endedAt = parseDate(root.dataset.endedAt);
    if (this.state.ended && root.dataset.endedBy) {
      this.state.ended = { by: root.dataset.endedBy, reason: root.dataset.endReason || this.state.ended.reason };
    }
    // A page (re)loaded in a session the user already allowed waits for the agent's resume offer.
    this.state.awaitingResume = this.state.consented;
    this.keys = new ResumeKeys(this.sessionId);
    if (this.state.ended) this.keys.forget();
    this.link = new LinkWatch({
      send: () => this.sendHeartbeat(),
      onLost: () => this.update(() => this.onLinkLost()),
    });
    this.wasDown = false; // the link was down at the last render: its return gets a brief notice
    this.view = new ConsoleView(doc);
    this.video = doc.getElementById("remote-video");
    // Pointer and keys are taken by a layer over the video, never by the <video> itself: a
    // browser's own controls on a video (Firefox's Picture-in-Picture button) cannot catch a click.
    this.inputLayer = doc.getElementById("remote-input") || this.video;
    this.noticeTimer = null;
    this.display = new RemoteDisplay(
      this.video,
      () => this.state.screen,
      () => this.state.previousScreen,
    );
    this.channel = null;
    /** type -> handler for agent data messages that features (chat, cursor, files...) own. */
    this.dataHandlers = new Map();
    /** type -> handler for signaling messages that features own (permission_status...). */
    this.signalHandlers = new Map();
    /** label -> handler for extra data channels the agent opens (files). */
    this.channelHandlers = new Map();
    this.exchange = null; // {offerSdp, commitment, nonceB, answerSdp} of the current offer
    this.queue = Promise.resolve();

    this.peer = new Peer({
      onTrack: (track, streams) => this.onTrack(track, streams),
      onChannel: (channel) => this.onChannel(channel),
      onState: (state) => this.update(() => this.onPeerState(state)),
    });
    this.peer.setIceServers(readJsonAttribute(root, "iceServers", []));

    const send = (message) => this.sendInput(message);
    this.mouse = new MouseInput(this.inputLayer, this.display, send, () => this.inputOpen());
    this.keyboard = new KeyboardInput(this.inputLayer, send);
    // A click or key that cannot go to the user's computer says so instead of vanishing.
    this.inputLayer.addEventListener("pointerdown", (event) => {
      if (!this.inputOpen() && this.display.toRemote(event)) this.notifyNotSent();
      this.inputLayer.focus({ preventScroll: true });
    });
    this.inputLayer.addEventListener("keydown", (event) => {
      const modifier = ["Control", "Alt", "Shift", "Meta", "Tab"].includes(event.key);
      if (!modifier && !this.inputOpen()) this.notifyNotSent();
    });
    const frames = () =>
      this.update(() => {
        this.state.frames = this.video.videoWidth > 0 && Boolean(this.video.srcObject);
        this.maybeBack();
      });
    for (const name of ["loadeddata", "resize", "emptied"]) this.video.addEventListener(name, frames);

    this.signaling = new Signaling(root.dataset.wsUrl, {
      onMessage: (message) => this.enqueue(message),
      onOpen: () =>
        this.update(() => {
          this.state.signalingDown = false;
          this.clearError("signaling");
        }),
      onClose: (willRetry, code) => this.update(() => this.onSocketClosed(willRetry, code)),
    });

    // The End button sits in a plain form (POST /sessions/<id>/end) that works without JavaScript
    // or without the WebSocket; with both, the hangup message ends the session at once instead.
    const endForm = doc.getElementById("end-form");
    if (endForm) {
      endForm.addEventListener("submit", (event) => {
        if (this.endSession()) event.preventDefault();
      });
    }
    const mismatch = doc.getElementById("sas-mismatch");
    if (mismatch) mismatch.addEventListener("click", () => this.abort("sas_mismatch"));
    const match = doc.getElementById("sas-match");
    if (match) match.addEventListener("click", () => this.confirmSas());
    const identityForm = doc.getElementById("identity-form");
    if (identityForm) {
      identityForm.addEventListener("submit", (event) => {
        event.preventDefault();
        const select = doc.getElementById("identity-method");
        // Nothing is pre-selected: the technician says how, or nothing is recorded.
        if (select && select.value) this.recordIdentity(select.value);
        else if (select) select.focus();
      });
    }

    this.render();
    if (!this.state.ended) {
      this.signaling.connect();
      this.clock = setInterval(() => {
        // while the link is lost, the socket that the resume offer comes through must be alive
        if (this.state.linkLost && !this.state.ended) this.signaling.probe();
        this.render();
      }, 1000);
    }
  }

  // ------------------------------------------------------------------ state and rendering

  render() {
    this.view.render(this.state);
    const s = this.state;
    if (s.ended || s.aborted) this.wasDown = false;
    else if (linkDown(s) || s.reverify) {
      this.wasDown = true;
      if (s.notice && s.notice.key === "notice.reconnected") {
        s.notice = null; // an earlier return, no longer true
        this.view.render(s);
      }
    } else if (this.wasDown && !s.reverify && ["active", "paused"].includes(sessionPhase(s))) {
      this.wasDown = false;
      this.notify("notice.reconnected");
    }
  }

  update(change) {
    change();
    this.render();
  }

  /** A brief notice over the video (`key` of the catalog), gone after a few seconds. */
  notify(key, params = {}) {
    this.update(() => {
      this.state.notice = { key, params };
    });
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => this.update(() => (this.state.notice = null)), NOTICE_MS);
  }

  /** An input the technician gave did not leave: say why (paused, not granted, not yet). */
  notifyNotSent() {
    const s = this.state;
    if (s.ended || s.aborted || connectionState(s) === "waiting") return;
    this.notify(notSentKey(s));
  }

  setError(text, source = "session") {
    this.state.error = text;
    this.errorSource = source;
  }

  clearError(source) {
    if (this.errorSource === source) this.state.error = "";
  }

  /** Read-only view for diagnostics and tests (window.veoConsole). */
  snapshot() {
    const self = this;
    const view = {};
    const fields = {
      state: () => connectionState(self.state),
      phase: () => sessionPhase(self.state),
      sas: () => self.state.sas,
      screen: () => (self.state.screen ? { ...self.state.screen } : null),
      granted: () => [...(self.state.control.granted.length ? self.state.control.granted : self.state.granted)],
      paused: () => self.state.pausedByUser || self.state.control.paused,
      control: () => controlState(self.state),
      technicianSasConfirmed: () => self.state.technicianSasConfirmed,
      identity: () => self.state.identity,
      mode: () => self.state.mode,
      linkDown: () => linkDown(self.state),
      reverify: () => self.state.reverify,
      desktop: () => (self.state.desktop ? { ...self.state.desktop, limits: [...self.state.desktop.limits] } : null),
    };
    for (const [name, get] of Object.entries(fields)) Object.defineProperty(view, name, { get, enumerable: true });
    return Object.freeze(view);
  }

  // ------------------------------------------------------------------ signaling

  /** Messages are handled one at a time, in order: `reveal` must not overtake our `answer`. */
  enqueue(message) {
    this.queue = this.queue
      .then(() => this.handle(message))
      .catch(() => this.setError(t("error.internal")))
      .finally(() => this.render());
  }

  async handle(m) {
    await this.handleBuiltIn(m);
    const extra = this.signalHandlers.get(m.type);
    if (extra) extra(m);
  }

  async handleBuiltIn(m) {
    const s = this.state;
    switch (m.type) {
      case "session_state":
        s.status = m.status;
        s.agentConnected = Boolean(m.agent_connected);
        if (Array.isArray(m.requested)) s.requested = permissionsFrom(m.requested);
        if (Array.isArray(m.granted)) s.granted = permissionsFrom(m.granted);
        s.pausedByUser = Boolean(m.control_paused);
        // While a new code is compared, only this page's own click on it counts (a state sent
        // before the server cleared the old confirmation must not skip the comparison).
        s.technicianSasConfirmed = m.technician_sas_confirmed === true && (!s.reverify || this.keys.verifiedHere);
        s.identityRequired = m.identity_required === true;
        s.identity = typeof m.identity === "string" ? m.identity : null;
        s.mode = m.mode === "browser" ? "browser" : "agent";
        if (m.device !== undefined) s.device = deviceFrom(m.device) || s.device;
        this.onInterruption(m);
        if (m.status === "active") s.consented = true;
        this.trustDevice();
        // Allowed, and this page has no connection of its own yet: the agent's resume offer comes.
        if (m.status === "active" && !s.offerReceived) s.awaitingResume = true;
        if (s.consented && !s.startedAt) s.startedAt = new Date();
        if (Array.isArray(m.ice_servers)) this.peer.setIceServers(m.ice_servers);
        if ((m.status === "ended" || m.status === "expired") && !s.ended) {
          // The server sends this state just before `ended` (which says who and why), so the
          // socket stays open for it; it closes right after, and then no reconnect is tried.
          this.finish({ by: "system", reason: m.status === "expired" ? "expired" : "" }, false);
        }
        break;
      case "agent_joined":
        s.agentConnected = true;
        s.agent = { platform: String(m.platform || ""), language: String(m.language || ""), address: String(m.address || "") };
        s.mode = m.mode === "browser" ? "browser" : "agent";
        break;
      case "offer":
        await this.onOffer(m);
        break;
      case "reveal":
        await this.onReveal(m);
        break;
      case "consent":
        s.granted = permissionsFrom(m.granted);
        s.consented = true;
        if (!s.startedAt) s.startedAt = new Date();
        this.trustDevice();
        break;
      case "control_state":
        s.pausedByUser = Boolean(m.paused);
        if (s.pausedByUser) s.control = { ...s.control, active: false };
        break;
      case "ended":
        this.finish({ by: String(m.by || "system"), reason: String(m.reason || "") });
        break;
      case "error":
        if (answerNotTaken(m, this.signaling.lastSent)) {
          this.stepAside(); // another tab of this session carries it: not an error here
          break;
        }
        this.setError(String(m.message || m.code || t("error.internal")));
        if (m.fatal) this.signaling.stop();
        break;
      default:
        break; // unknown types are for newer consoles; ignoring them keeps this one working
    }
  }

  async onOffer(m) {
    const s = this.state;
    if (s.ended || s.aborted) return;
    if (typeof m.sdp !== "string" || typeof m.commitment !== "string" || !HEX32.test(m.commitment)) {
      this.setError(t("error.bad_offer"));
      return;
    }
    // A resume offer replaces a lost connection of a session the user allowed: the grant stands.
    const resume = m.resume === true && s.consented;
    s.offerReceived = true;
    s.awaitingResume = false;
    s.elsewhere = false; // every offer is this page's to answer again
    s.sas = "";
    s.peer = "new";
    s.control = { ...s.control, active: false };
    this.forgetChannel();
    this.keys.newConnection();
    if (resume) {
      s.resuming = true;
      s.linkLost = true;
      s.reverify = false;
    } else {
      // A second first offer is a new connection (a browser share upgraded to the agent): new consent.
      s.consented = false;
      s.granted = [];
      s.screen = null;
      s.control = { granted: [], paused: false, active: false, waitingFor: [] };
      s.resuming = false;
      s.linkLost = false;
      s.reverify = false;
    }
    this.exchange = { offerSdp: m.sdp, commitment: m.commitment, nonceB: newNonce(), answerSdp: "", resume };
    const exchange = this.exchange;
    // The server makes this console's TURN credentials when it relays the offer (sessions/ice.py).
    if (Array.isArray(m.ice_servers)) this.peer.setIceServers(m.ice_servers, m.ice_transport_policy);
    this.render();
    let answerSdp;
    try {
      answerSdp = await this.peer.answer(m.sdp);
    } catch {
      this.setError(t("error.webrtc"));
      return;
    }
    if (this.exchange !== exchange) return;
    exchange.answerSdp = answerSdp;
    const answer = { sdp: answerSdp, nonce: exchange.nonceB };
    if (resume) {
      // With the resume key (kept by this tab), prove we are the console the agent verified.
      const proof = await answerProof(this.keys.key, this.sessionId, exchange);
      if (this.exchange !== exchange) return;
      if (proof) answer.resume_proof = proof;
    }
    if (!this.signaling.send("answer", answer)) {
      this.setError(t("error.reconnecting"), "signaling");
    }
  }

  async onReveal(m) {
    const exchange = this.exchange;
    if (!exchange || !exchange.answerSdp || this.state.ended || this.state.aborted) return;
    const nonceA = typeof m.nonce === "string" ? m.nonce : "";
    if (!HEX32.test(nonceA) || !(await checkCommitment(nonceA, exchange.commitment))) {
      this.abort("sas_commitment_mismatch");
      return;
    }
    const fpOffer = sha256Fingerprint(exchange.offerSdp);
    const fpAnswer = sha256Fingerprint(exchange.answerSdp);
    if (!fpOffer || !fpAnswer) {
      this.abort("sas_commitment_mismatch");
      return;
    }
    const code = await sasCode(fpOffer, fpAnswer, nonceA, exchange.nonceB, this.sessionId);
    if (this.exchange !== exchange) return;
    if (exchange.resume) {
      await this.onResumeReveal(exchange, m.resume_proof, code);
      return;
    }
    exchange.trusted = true;
    this.state.sas = code;
    this.trustDevice();
  }

  /**
   * A managed device's session: the device proved itself to the server with its key and there may
   * be nobody at it to read a code to, so this page takes its FIRST connection as verified (and
   * keeps the agent's resume key, so that a reload or a lost link resumes by proof) once its
   * commitment checked out and the session is allowed. A resume without a proof still compares a
   * new code, as the agent asks. A typed-code session waits for "Codes match" instead.
   */
  trustDevice() {
    if (!this.keys.verifiedHere && deviceConnectionTrusted(this.state, this.exchange)) this.verifiedHere();
  }

  /**
   * Another console of this session (a duplicated tab) answered the offer first, and the agent
   * goes on with that one: this page's exchange was never taken. Its connection closes, the coming
   * reveal is not ours to judge (its code or proof is over the other tab's answer: checked here it
   * would show a wrong code, or refuse a good proof), and the page says calmly where the session is.
   */
  stepAside() {
    this.exchange = null;
    this.forgetChannel();
    this.peer.close();
    this.display.detach();
    this.mouse.reset();
    this.clearError("resume"); // a reveal judged here before the server's word came
    stepAside(this.state);
  }

  /** The remote video; a resume connection's is shown only once it proved itself (or a code is compared). */
  onTrack(track, streams) {
    const exchange = this.exchange;
    if (exchange && exchange.resume && !exchange.trusted) {
      exchange.held = { track, streams }; // meanwhile the last picture stays, under "reconnecting"
      return;
    }
    this.showVideo(track, streams);
  }

  /** A new stream has no picture until its first frame is decoded (the video's events say when). */
  showVideo(track, streams) {
    this.state.frames = false;
    this.display.attach(track, streams);
  }

  /**
   * A lost link is back once its new connection proved itself, spoke on the data channel, and
   * shows a picture again (or FIRST_PICTURE_MS after it spoke: the picture is not what input
   * waits for). "Active" then means the technician sees the screen to click on.
   */
  maybeBack() {
    const s = this.state;
    const exchange = this.exchange;
    if (!s.linkLost || !exchange || !exchange.trusted || !exchange.heardAt) return;
    if (s.frames || Date.now() - exchange.heardAt >= FIRST_PICTURE_MS) s.linkLost = false;
  }

  /** The reveal of a resume offer: back by proof, refused for a wrong proof, or a new code to compare. */
  async onResumeReveal(exchange, revealProof, code) {
    const s = this.state;
    const outcome = await judgeReveal(this.sessionId, exchange, revealProof);
    if (this.exchange !== exchange || s.ended || s.aborted) return;
    if (outcome === "bad_proof") {
      // Not the computer the user and the technician verified (or someone in between): refuse it.
      this.signaling.send("resume_refused", { reason: "bad_proof" });
      this.exchange = null;
      this.forgetChannel();
      this.peer.close();
      this.setError(t("error.resume_refused"), "resume");
      return;
    }
    exchange.trusted = true;
    s.resuming = false;
    s.sas = code;
    this.clearError("resume");
    if (exchange.held) this.showVideo(exchange.held.track, exchange.held.streams);
    exchange.held = null;
    if (outcome === "proof") {
      this.verifiedHere();
      return;
    }
    // No proof on one side (a managed device's session too: its agent asks for a new comparison): the code is compared aloud again; the server clears "Codes match" too.
    s.reverify = true;
    s.technicianSasConfirmed = false;
  }

  /** session_state's view of a lost connection: the deadline, and the end of a code comparison. */
  onInterruption(m) {
    const s = this.state;
    const was = s.interrupted;
    s.interrupted = m.interrupted === true;
    s.resumeDeadline = s.interrupted ? parseDate(typeof m.resume_deadline === "string" ? m.resume_deadline : "") : null;
    if (reverifyDone(s, was)) s.reverify = false;
  }

  /** "Codes match": the user read back the same code; the server records it and tells the agent. */
  confirmSas() {
    const s = this.state;
    if (!s.sas || s.ended || s.aborted || s.technicianSasConfirmed) return;
    if (!this.signaling.send("sas_confirm")) {
      this.setError(t("error.reconnecting"), "signaling");
      return;
    }
    this.verifiedHere(); // verified on this page: a reload may now resume with the key
  }

  /** How the user's identity was confirmed; the server records it (session_state echoes it). */
  recordIdentity(method) {
    const s = this.state;
    if (s.ended || s.aborted) return;
    if (!this.signaling.send("identity", { method })) this.setError(t("error.reconnecting"), "signaling");
  }

  /** Verification failed: tell the server (which ends the session for both) and stop everything here. */
  abort(reason) {
    const s = this.state;
    if (s.ended || s.aborted) return;
    this.signaling.send("abort", { reason });
    s.aborted = true;
    s.abortReason = reason;
    this.keys.forget();
    this.setError(reason === "sas_mismatch" ? t("error.sas_mismatch") : t("error.sas_failed"));
    this.teardown();
    this.render();
  }

  /** Ask the server to end the session; false when the socket is down (the form posts instead). */
  endSession() {
    const s = this.state;
    if (s.ended || s.aborted || s.ending) return true;
    if (!this.signaling.send("hangup", { reason: "technician_ended" })) return false;
    this.update(() => {
      s.ending = true;
    });
    return true;
  }

  onSocketClosed(willRetry, code) {
    if (this.state.ended || this.state.aborted) {
      this.signaling.stop(); // nothing more to hear about an ended session
      return;
    }
    const final = { 4401: "error.signed_out", 4403: "error.forbidden", 4404: "error.not_found" };
    this.state.signalingDown = Boolean(willRetry);
    if (willRetry) this.setError(t("error.reconnecting"), "signaling");
    else if (final[code]) this.setError(t(final[code]), "signaling");
  }

  /** The session is over: stop media and input; `final` also closes the signaling socket. */
  finish(ended, final = true) {
    this.state.ended = ended;
    this.keys.forget();
    if (!this.state.endedAt) this.state.endedAt = new Date();
    this.state.signalingDown = false;
    this.state.ending = false;
    this.teardown();
    if (final) this.signaling.stop();
    if (this.clock) clearInterval(this.clock);
    this.clock = null;
  }

  teardown() {
    this.state.control = { ...this.state.control, active: false };
    this.mouse.reset();
    this.peer.close();
    this.display.detach();
    this.state.frames = false;
    const channel = this.channel;
    this.forgetChannel();
    if (channel) channel.close();
  }

  /** The data channel in use is no longer ours to listen to (a new connection replaces it). */
  forgetChannel() {
    this.channel = null;
    this.link.stop();
  }

  // ------------------------------------------------------------------ peer and data channel

  onPeerState(state) {
    const s = this.state;
    s.peer = state;
    const lost = state === "disconnected" || state === "failed";
    if (lost && s.consented && !s.ended && !s.aborted) {
      // An allowed session: the agent replaces the connection; meanwhile nothing is sent.
      this.onLinkLost();
      return;
    }
    if (state === "failed") this.setError(t("error.webrtc"), "peer");
    else if (state === "connected") this.clearError("peer");
  }

  /** The link to the user's computer is gone (silence, or the peer said so): input stops here. */
  onLinkLost() {
    const s = this.state;
    if (!s.consented || s.ended || s.aborted) return;
    s.linkLost = true;
    s.control = { ...s.control, active: false };
    this.mouse.reset();
  }

  /** Every second on the open data channel, whatever else is said (resuming.js counts the silence). */
  sendHeartbeat() {
    if (this.channel && this.channel.readyState === "open") this.channel.send(JSON.stringify({ type: "heartbeat", v: 1 }));
  }

  /** A feature handles server messages of `type` (after the built-in handling, then render). */
  onSignalType(type, handler) {
    this.signalHandlers.set(type, handler);
  }

  /** A feature handles agent messages of `type` (called after the built-in ones, then render). */
  onDataType(type, handler) {
    this.dataHandlers.set(type, handler);
  }

  /** A feature owns the extra data channel `label` (e.g. file bytes). */
  onChannelLabel(label, handler) {
    this.channelHandlers.set(label, handler);
  }

  onChannel(channel) {
    const extra = this.channelHandlers.get(channel.label);
    if (extra) {
      extra(channel);
      return;
    }
    if (channel.label !== DATA_CHANNEL_LABEL) {
      channel.close(); // a channel no feature of this console knows
      return;
    }
    this.channel = channel;
    const exchange = this.exchange;
    if (channel.readyState === "open") this.link.start();
    else channel.addEventListener("open", () => this.channel === channel && this.link.start());
    channel.addEventListener("message", (event) =>
      this.update(() => {
        if (this.channel !== channel) return;
        const type = this.unproven(exchange) ? this.hold(exchange, event.data) : this.onData(event.data);
        // A sign of life; it ends a lost link only on a connection that proved itself.
        this.link.heard(type === "heartbeat");
        if (exchange && exchange.trusted && this.exchange === exchange) {
          if (!exchange.heardAt) exchange.heardAt = Date.now();
          this.maybeBack();
        }
      }),
    );
    channel.addEventListener("close", () =>
      this.update(() => {
        if (this.channel !== channel) return;
        this.forgetChannel();
        this.state.control = { ...this.state.control, active: false };
        this.onLinkLost();
      }),
    );
  }

  /**
   * Whether `exchange` is a resume connection not yet verified on this page (no good proof, no
   * "Codes match" clicked here). The real agent says nothing on such a connection but heartbeats
   * and its key; anything else would come from whoever is in between, and is not shown as the
   * user's until the page verified the connection.
   */
  unproven(exchange) {
    return Boolean(exchange && exchange.resume && !this.keys.verifiedHere);
  }

  /** A message of an unproven connection: signs of life and the key now, the rest kept for later. */
  hold(exchange, raw) {
    let type = null;
    try {
      const m = JSON.parse(raw);
      type = m && typeof m.type === "string" ? m.type : null;
    } catch {
      return null;
    }
    if (type === "heartbeat" || type === "resume_key") return this.onData(raw);
    if (!exchange.heldData) exchange.heldData = [];
    if (exchange.heldData.length < HELD_DATA_MAX) exchange.heldData.push(raw);
    return type;
  }

  /** This page verified the connection (a good proof, or its own "Codes match"): keep the key, and
   * hear what the agent said meanwhile. */
  verifiedHere() {
    this.keys.verified();
    const exchange = this.exchange;
    const held = exchange && exchange.heldData ? exchange.heldData : [];
    if (exchange) exchange.heldData = null;
    for (const raw of held) this.onData(raw);
  }

  /** One message from the agent; returns its type (or null for something that is not a message). */
  onData(raw) {
    if (typeof raw !== "string") return null;
    let m;
    try {
      m = JSON.parse(raw);
    } catch {
      return null;
    }
    if (!m || typeof m !== "object") return null;
    const s = this.state;
    if (m.type === "screen" && Number.isInteger(m.width) && Number.isInteger(m.height) && m.width > 0 && m.height > 0) {
      const origin = (v) => (Number.isInteger(v) ? v : 0);
      const old = s.screen;
      if (old && (old.width !== m.width || old.height !== m.height)) s.previousScreen = old; // a monitor switch
      s.screen = { width: m.width, height: m.height, x: origin(m.x), y: origin(m.y) };
    } else if (m.type === "control") {
      const waiting = Array.isArray(m.waiting_for) ? m.waiting_for.filter((w) => typeof w === "string") : [];
      s.control = {
        granted: permissionsFrom(m.granted),
        paused: Boolean(m.paused),
        active: m.active === true,
        waitingFor: waiting,
      };
      if (!s.control.paused) s.pausedByUser = false;
      if (s.control.active) s.dropped = "";
    } else if (m.type === "heartbeat") {
      // nothing to do: the channel's message handler counted it as life
    } else if (m.type === "resume_key") {
      this.keys.received(m.key); // stored for a reload only once this page verified the connection
    } else if (m.type === "dropped") {
      s.dropped = String(m.reason || "").slice(0, 120);
      this.notify(droppedKey(s.dropped)); // the agent refused something we sent: say so over the screen
    } else if (typeof m.type === "string" && this.dataHandlers.has(m.type)) {
      try {
        this.dataHandlers.get(m.type)(m);
      } catch {
        this.setError(t("error.internal"));
      }
    }
    return typeof m.type === "string" ? m.type : null;
  }

  /** Whether the data channel is open and the user allowed the session (for non-input features). */
  dataOpen() {
    const s = this.state;
    // A new connection that has not proved itself yet (or awaits a new code comparison) hears nothing.
    if (linkDown(s) || s.reverify) return false;
    return s.consented && !s.ended && this.channel !== null && this.channel.readyState === "open";
  }

  /** Send a feature message (chat, annotation...); the agent's policy has the last word. */
  sendData(message) {
    if (!this.dataOpen()) return false;
    this.channel.send(JSON.stringify(message));
    return true;
  }

  /** Whether input would leave now: the agent said control is active and the channel is open. */
  inputOpen() {
    return inputAllowed(this.state) && this.channel !== null && this.channel.readyState === "open";
  }

  /** The one gate for input: nothing leaves unless the agent said control is active right now. */
  sendInput(message) {
    if (!this.inputOpen()) return false;
    this.channel.send(JSON.stringify(message));
    return true;
  }
}

const app = new Console(document);
// Features (chat, annotation, files, ...) each export install(app) and are listed here, one line each.
for (const install of FEATURES) install(app);
Object.defineProperty(window, "veoConsole", { value: app.snapshot(), writable: false, configurable: false });
