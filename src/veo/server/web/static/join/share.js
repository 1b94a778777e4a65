// Browser share, no install: the join page acting as a view-only agent.
//
// It joins over /ws/agent with `client: "browser"`, shows the same consent information as the
// agent's dialog (organization, technician, ticket, the warning, the verification code), and only
// after Allow asks the browser to capture (getDisplayMedia) and sends the picture. Like the agent it
// is the WebRTC offerer with the SAS commitment (offerer.js). View only: the technician can chat
// and point or draw on the page's preview, never act on the computer; input messages are refused.
//
// "Install the veo app" asks the server for a single-use continuation code; when the agent joins
// with it, the server says `upgraded` and this page stops sharing (the app took over the session).

import { ChatBox } from "../shared/chatbox.js";
import { Catalog } from "../shared/i18n.js";
import { displayCode } from "../console/sas.js";
import { refusalReason } from "./messages.js";
import { Offerer } from "./offerer.js";
import { PreviewOverlay } from "./overlay.js";

const HEX32 = /^[0-9a-f]{64}$/;
const DROPPED_EVERY_MS = 2000;

const catalog = new Catalog();
const t = (key, params = {}) => catalog.t(key, params);

/** How long to wait, as `5 minutes` / `1 minute` (Spanish and English: one form for 1, another for the rest). */
function waitText(seconds) {
  const minutes = Math.ceil(seconds / 60);
  const [unit, count] = seconds < 60 ? ["second", Math.max(1, seconds)] : ["minute", minutes];
  return t(`wait.${unit}.${count === 1 ? "one" : "other"}`, { count });
}

/** The server's refusal of a code, in words: the same sentences as the agent (veo/protocol/refusals.py). */
export function refusalText(m) {
  const code = String(m.code || "");
  if (code === "rate_limited" && Number.isInteger(m.retry_after) && m.retry_after > 0) {
    return t("refused.rate_limited.wait", { wait: waitText(m.retry_after) });
  }
  const key = `refused.${code}`;
  return catalog.has(key) ? t(key) : t("refused.other");
}

/** How the session ended, from the server's `ended{by, reason}`: one sentence per kind of ending. */
function endedText(m) {
  const reason = String(m.reason || "");
  if (reason === "denied") return t("over.denied");
  if (reason.startsWith("sas_")) return t("over.mismatch");
  if (m.by === "technician") return t("over.technician");
  if (m.by === "system") return t("over.dropped");
  return t("over.ended");
}

/**
 * What a join code looks like, as the page states it (data-code-* on #share, rendered from
 * veo/protocol/codes.py): the separators people may type, the pattern of a code, the display groups.
 * Nothing of the rule is written here.
 */
function codeRule(root) {
  const data = root.dataset;
  const group = Number(data.codeGroup);
  return {
    digitsOf: (text) => String(text || "").replace(new RegExp(data.codeSeparators, "g"), ""),
    isCode: (text) => new RegExp(data.codePattern).test(text),
    display: (code) => code.match(new RegExp(`.{1,${group}}`, "g")).join(" "),
  };
}

let counter = 0;
function messageId() {
  counter += 1;
  return `u${Date.now().toString(36)}${counter}`;
}

export class BrowserShare {
  constructor(doc) {
    this.doc = doc;
    catalog.load(doc, "share-i18n");
    this.root = doc.getElementById("share");
    this.codes = codeRule(this.root);
    this.el = (id) => doc.getElementById(id);
    this.ws = null;
    this.joined = null; // the server's `joined`
    this.offerer = new Offerer({
      onChannel: (channel) => this.onChannel(channel),
      onState: (state) => this.onPeerState(state),
    });
    this.channel = null;
    this.stream = null;
    this.track = null;
    this.sas = "";
    this.consented = false;
    this.over = false;
    this.lastDropped = new Map();
    this.overlay = new PreviewOverlay(this.el("share-preview"), this.el("share-overlay"));
    this.chat = null;

    this.el("share-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.start(this.codes.digitsOf(this.el("share-code").value));
    });
    this.el("share-allow").addEventListener("click", () => this.allow());
    this.el("share-deny").addEventListener("click", () => this.deny());
    this.el("share-differ").addEventListener("click", () => this.differ());
    this.el("share-stop").addEventListener("click", () => this.stop("user_stopped"));
    this.el("share-upgrade").addEventListener("click", () => this.requestUpgrade());
    this.el("share-perm-view").addEventListener("change", () => this.renderAllow());
    doc.defaultView.addEventListener("pagehide", () => this.stop("page_closed"));
    this.setState("code");
  }

  // ------------------------------------------------------------------ page state

  setState(state, message = "") {
    this.showError("");
    this.state = state;
    this.root.dataset.state = state;
    for (const section of this.root.querySelectorAll("[data-show]")) {
      section.hidden = !section.dataset.show.split(" ").includes(state);
    }
    const box = this.el("share-message");
    box.textContent = message;
    box.hidden = !message;
  }

  renderAllow() {
    const ticked = this.el("share-perm-view").checked;
    this.el("share-allow").disabled = !this.sas || !ticked || this.consented;
    this.el("share-differ").disabled = !this.sas || this.consented;
  }

  // ------------------------------------------------------------------ signaling

  start(code) {
    if (!this.codes.isCode(code)) {
      this.setState("code");
      this.showError(t("error.code_format"));
      return;
    }
    this.setState("joining");
    const url = new URL(this.root.dataset.wsUrl, this.doc.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.addEventListener("open", () =>
      this.send("join", { code, client: "browser", language: this.doc.documentElement.lang || "en", platform: "browser" }),
    );
    ws.addEventListener("message", (event) => {
      let m;
      try {
        m = JSON.parse(event.data);
      } catch {
        return;
      }
      if (m && typeof m === "object") this.handle(m).catch(() => this.fail(t("error.webrtc")));
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.over) this.fail(t("error.connection_lost"));
    });
  }

  send(type, fields = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ v: 1, type, ...fields }));
    return true;
  }

  async handle(m) {
    switch (m.type) {
      case "joined":
        await this.onJoined(m);
        break;
      case "answer":
        await this.onAnswer(m);
        break;
      case "upgrade_code":
        this.onUpgradeCode(m);
        break;
      case "upgraded":
        this.finish(t("over.upgraded"), "upgraded");
        break;
      case "ended":
        this.finish(endedText(m), "ended");
        break;
      case "error":
        if (m.fatal && !this.joined) {
          this.refused(refusalText(m));
        } else if (m.fatal) {
          this.fail(String(m.message || m.code || ""), "over");
        } else {
          this.showNotice(String(m.message || m.code || ""));
        }
        break;
      case "permission_ask":
        // A browser can only show the screen, so nothing more can be granted here: the server
        // never asks a browser share; should a question come anyway, it is refused at once.
        if (typeof m.id === "string") this.send("permission_answer", { id: m.id, outcome: "refused", granted: [] });
        break;
      default:
        break; // technician_confirmed and newer messages: nothing to do for a view-only share
    }
  }

  async onJoined(m) {
    this.joined = m;
    this.el("share-who").textContent = t("consent.who", {
      technician: m.technician_name || "?",
      organization: m.organization || "",
    });
    this.el("share-ticket").textContent = t("consent.ticket", { number: m.ticket_id, title: m.ticket_title || "" });
    this.el("share-sas").textContent = t("consent.sas_pending");
    this.el("share-sas").dataset.code = "";
    this.setState("consent");
    this.renderAllow();
    const offer = await this.offerer.offer(m.ice_servers, m.ice_transport_policy);
    this.send("offer", offer);
  }

  async onAnswer(m) {
    if (typeof m.sdp !== "string" || typeof m.nonce !== "string" || !HEX32.test(m.nonce) || !this.joined) return;
    const { nonce, sas } = await this.offerer.accept(m.sdp, m.nonce, this.joined.session_id);
    this.send("reveal", { nonce });
    this.sas = sas;
    this.el("share-sas").textContent = t("consent.sas", { code: displayCode(sas) });
    this.el("share-sas").dataset.code = sas;
    this.renderAllow();
  }

  // ------------------------------------------------------------------ the user's decisions

  /** Allow: capture now (the click is the gesture getDisplayMedia needs), then consent. */
  async allow() {
    if (!this.sas || this.consented || this.over) return;
    this.el("share-allow").disabled = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({
        video: { width: { ideal: 1920 }, height: { ideal: 1080 }, frameRate: { ideal: 15 } },
        audio: false,
      });
    } catch {
      this.showNotice(t("error.capture"));
      this.renderAllow();
      return;
    }
    const [track] = stream.getVideoTracks();
    if (!track) {
      this.showNotice(t("error.capture"));
      this.renderAllow();
      return;
    }
    this.stream = stream;
    this.track = track;
    track.addEventListener("ended", () => this.stop("user_stopped")); // the browser's own "Stop sharing"
    const preview = this.el("share-preview");
    preview.muted = true;
    preview.srcObject = stream;
    preview.play().catch(() => {});
    preview.addEventListener("resize", () => this.sendScreen());
    await this.offerer.share(track);
    this.consented = true;
    this.send("consent", { granted: ["view"], sas_confirmed: true });
    this.el("share-label").textContent = t("live.label", { label: track.label || t("live.unnamed") });
    this.setState("sharing");
    this.installChat();
    this.sendScreen();
    this.sendControl();
  }

  deny() {
    if (this.consented || this.over) return;
    this.send("deny");
    this.finish(t("over.denied"), "ended");
  }

  differ() {
    if (!this.sas || this.consented || this.over) return;
    this.send("abort", { reason: "sas_mismatch" });
    this.finish(t("over.mismatch"), "ended");
  }

  /** Stop: the page's button, the browser's own stop, or leaving the page. */
  stop(reason) {
    if (this.over) return;
    this.send("hangup", { reason });
    this.finish(t("over.stopped"), "ended");
  }

  requestUpgrade() {
    if (!this.consented || this.over) return;
    if (!this.send("upgrade_request")) this.showNotice(t("error.connection_lost"));
  }

  onUpgradeCode(m) {
    if (typeof m.code !== "string" || !this.codes.isCode(m.code)) return;
    this.el("share-upgrade-code").textContent = this.codes.display(m.code);
    this.el("share-upgrade-command").textContent = String(m.command || "");
    const download = typeof m.download_url === "string" && /^https?:\/\//.test(m.download_url) ? m.download_url : "";
    if (download) this.el("share-upgrade-link").href = download;
    this.el("share-upgrade-download").hidden = !download;
    this.el("share-upgrade-panel").hidden = false;
  }

  // ------------------------------------------------------------------ data channel

  onChannel(channel) {
    this.channel = channel;
    channel.addEventListener("open", () => {
      this.sendScreen();
      this.sendControl();
      if (this.chat) this.chat.setEnabled(true);
    });
    channel.addEventListener("close", () => {
      if (this.chat) this.chat.setEnabled(false);
    });
    channel.addEventListener("message", (event) => this.onData(event.data));
  }

  dataOpen() {
    return this.consented && !this.over && this.channel && this.channel.readyState === "open";
  }

  sendData(message) {
    if (!this.dataOpen()) return false;
    this.channel.send(JSON.stringify({ v: 1, ...message }));
    return true;
  }

  sendScreen() {
    const preview = this.el("share-preview");
    const settings = this.track ? this.track.getSettings() : {};
    const width = preview.videoWidth || settings.width || 0;
    const height = preview.videoHeight || settings.height || 0;
    if (width > 0 && height > 0) this.sendData({ type: "screen", x: 0, y: 0, width, height });
  }

  /** Control is never available from a browser; the console tells the technician why. */
  sendControl() {
    this.sendData({ type: "control", granted: ["view"], paused: false, active: false, waiting_for: [] });
  }

  onData(raw) {
    if (typeof raw !== "string" || raw.length > 256 * 1024 || !this.consented) return;
    let m;
    try {
      m = JSON.parse(raw);
    } catch {
      return;
    }
    if (!m || typeof m !== "object" || typeof m.type !== "string") return;
    if (m.type === "chat") {
      if (this.chat && typeof m.text === "string" && m.text.length <= 4000) this.chat.receive({ id: m.id, text: m.text });
    } else if (m.type === "chat_read") {
      if (this.chat && typeof m.id === "string") this.chat.acknowledge(m.id);
    } else if (m.type === "annotate" || m.type === "annotate_erase" || m.type === "tech_pointer") {
      this.overlay.apply(m);
    } else {
      const reason = refusalReason(m.type); // input, the app's features; "" for view, heartbeat
      if (reason) this.refuse(reason);
    }
  }

  /** Tell the console why a message was refused, at most once per reason every few seconds. */
  refuse(reason) {
    const now = Date.now();
    if (now - (this.lastDropped.get(reason) || 0) < DROPPED_EVERY_MS) return;
    this.lastDropped.set(reason, now);
    this.sendData({ type: "dropped", reason });
  }

  installChat() {
    if (this.chat) return;
    this.chat = new ChatBox(this.el("share-chat"), {
      idPrefix: "chat",
      strings: {
        title: t("chat.title"),
        send: t("chat.send"),
        placeholder: t("chat.placeholder"),
        me: t("chat.me"),
        them: t("chat.them"),
        unread: t("chat.unread"),
        read: t("chat.read"),
        failed: t("chat.failed"),
      },
      onSend: (text) => {
        const id = messageId();
        return this.sendData({ type: "chat", id, text }) ? id : null;
      },
      onRead: (id) => this.sendData({ type: "chat_read", id }),
    });
    this.chat.setEnabled(this.dataOpen());
  }

  // ------------------------------------------------------------------ peer and ending

  onPeerState(state) {
    this.root.dataset.peer = state;
    if (state === "failed" && !this.over) this.showNotice(t("error.webrtc"));
  }

  /** An error the user must act on (a refused code): red, with an icon, announced (role=alert). */
  showError(text, title = "") {
    this.el("share-error-title").textContent = title;
    this.el("share-error-title").hidden = !title;
    this.el("share-error-text").textContent = text;
    this.el("share-error").hidden = !text;
    const input = this.el("share-code");
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  /** The server refused the code: back to the code form, the reason and the next step above it. */
  refused(text) {
    this.offerer.close();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    this.joined = null;
    this.setState("code");
    this.showError(text, t("refused.title"));
    this.el("share-code").focus();
  }

  showNotice(text) {
    const box = this.el("share-notice");
    box.textContent = text;
    box.hidden = !text;
  }

  /** Stop capturing and close everything; the page says why. */
  finish(message, state) {
    this.over = true;
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.track = null;
    this.el("share-preview").srcObject = null;
    this.overlay.clear();
    if (this.chat) this.chat.setEnabled(false);
    this.offerer.close();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    this.showNotice("");
    this.setState(state, message);
  }

  fail(message, state = "over") {
    if (state === "code") {
      this.offerer.close();
      const ws = this.ws;
      this.ws = null;
      if (ws) ws.close();
      this.joined = null;
      this.setState("code", message);
      return;
    }
    if (this.over) return;
    this.finish(message, "over");
  }
}

const share = new BrowserShare(document);
Object.defineProperty(window, "veoShare", {
  value: Object.freeze({
    get state() {
      return share.state;
    },
    get sas() {
      return share.sas;
    },
    get sessionId() {
      return share.joined ? share.joined.session_id : "";
    },
  }),
});
