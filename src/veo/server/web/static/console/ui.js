// Renders the console state into the page: the header (state badge and sentence, the verification
// step, End session), the stage (waiting card, video, notices over it, end card) and the session
// facts. Feature modules draw their own panels; everything about the session itself is drawn here.

import { desktopControlWhy, desktopDeniesControl } from "./desktop.js";
import { displayCode } from "./sas.js";
import { language, t } from "./i18n.js";
import { keyCombo } from "./keys.js";
import {
  connectionState,
  controlState,
  controlWaitingFor,
  formatCountdown,
  linkDown,
  secondsLeft,
  sessionPhase,
} from "./state.js";

const PERMISSION_KEYS = ["view", "control", "clipboard", "files"];
/** The user's global stop key on the agent (agent/hotkey), as their keyboard prints it. */
const STOP_KEY = ["Control", "Alt", "Shift", "End"];

function byId(doc, id) {
  return doc.getElementById(id);
}

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

function setHidden(el, hidden) {
  if (el && el.hidden !== hidden) el.hidden = hidden;
}

/** Translated, ordered list of permissions: "View screen, Control mouse and keyboard". */
export function permissionList(permissions) {
  const known = PERMISSION_KEYS.filter((p) => permissions.includes(p));
  return known.map((p) => t(`perm.${p}`)).join(", ");
}

/**
 * Why the session ended, as a sentence for the technician. One table, reason -> sentence (the
 * "end.<reason>" strings of console.html); a reason without a sentence of its own says who ended
 * it. The code itself is never shown: it stays in the audit log and the API.
 */
export function endText(ended) {
  if (!ended) return "";
  const reason = String(ended.reason || "");
  const own = `end.${reason}`;
  if (reason && /^[a-z0-9_]+$/.test(reason) && t(own) !== own) return t(own);
  const who = { technician: "end.by_technician", user: "end.by_user", system: "end.by_system" };
  return t(who[ended.by] || "end.by_system");
}

/**
 * A length of time as people say it, in the page's language: "18 seconds", "4 minutes and 5 seconds",
 * "1 hour and 5 minutes", "3 days and 4 hours" (Intl's unit and list formats). Below an hour it is
 * exact to the second, like the ticket and the agent (veo/durations.py), so all three agree.
 */
export function durationText(seconds, lang = language()) {
  if (!(seconds >= 0)) return "";
  const unit = (value, name) => {
    try {
      return new Intl.NumberFormat(lang, { style: "unit", unit: name, unitDisplay: "long" }).format(value);
    } catch {
      return `${value} ${name}`;
    }
  };
  const both = (a, b) => {
    try {
      return new Intl.ListFormat(lang, { type: "conjunction", style: "long" }).format([a, b]);
    } catch {
      return `${a} ${b}`;
    }
  };
  const total = Math.round(seconds);
  if (total < 60) return unit(total, "second");
  if (total < 3600) {
    const minutes = Math.floor(total / 60);
    const secs = total % 60;
    return secs === 0 ? unit(minutes, "minute") : both(unit(minutes, "minute"), unit(secs, "second"));
  }
  if (total < 86400) {
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    return minutes === 0 ? unit(hours, "hour") : both(unit(hours, "hour"), unit(minutes, "minute"));
  }
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  return hours === 0 ? unit(days, "day") : both(unit(days, "day"), unit(hours, "hour"));
}

const DROPPED_REASONS = [
  "control_not_granted",
  "control_paused",
  "question_open",
  "sas_not_confirmed",
  "technician_not_confirmed",
  "identity_not_confirmed",
  "not_consented",
  "invalid",
  "monitor_not_found",
  "monitors_unavailable",
  "capture_failed",
  "browser_share",
  "reconnecting",
];
const IDENTITY_METHODS = ["email_link", "phone_questions", "managed_device", "not_verified"];

/** The catalog key saying why the agent refused an input (an unknown reason gets a general sentence). */
export function droppedKey(reason) {
  return DROPPED_REASONS.includes(reason) ? `dropped.${reason}` : "dropped";
}

/** Why the agent refused an input, in words. */
export function droppedText(reason) {
  return t(droppedKey(reason));
}

/** "14:32" in the page's language: when the session ends unless the connection comes back. */
export function clockTime(date, lang = language()) {
  try {
    return new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" }).format(date);
  } catch {
    return date.toISOString().slice(11, 16);
  }
}

/**
 * The header while the link to the user's computer is down: reconnecting and, once the server
 * said when, the time the session ends if it does not come back. Short: the header has two lines.
 */
export function linkLostSentence(s) {
  const lost = t("say.link_lost");
  if (!s.resumeDeadline) return lost;
  return `${lost} ${t("say.link_lost_until", { time: clockTime(s.resumeDeadline) })}`;
}

/** Over the screen meanwhile: that input is not sent, and a countdown to the end. */
export function linkLostDetail(s, nowMs = Date.now()) {
  const held = t("say.link_lost_input");
  const left = secondsLeft(s.resumeDeadline, nowMs);
  if (left === null) return held;
  return `${held} ${t("say.link_lost_left", { left: formatCountdown(left) })}`;
}

/**
 * The header's sentence on a managed device's session before it is active: the device starts veo
 * (no code for anyone to enter), then the person at it allows (ask) or it starts by itself; null
 * when the general sentence applies.
 */
export function deviceSentence(s, phase, conn) {
  if (!s.device) return null;
  if (phase === "waiting") return secondsLeft(s.expiresAt, Date.now()) === 0 ? t("device.expired") : t("device.waiting");
  if (phase !== "joined") return null;
  if (s.device.policy === "ask" && !s.consented) return t("device.joined_ask");
  if (conn === "joined" || conn === "connecting" || conn === "connected") return t("device.joined_auto");
  return null;
}

/** The header's sentence for the current state. */
export function stateSentence(s, nowMs = Date.now()) {
  const phase = sessionPhase(s);
  const conn = connectionState(s);
  const user = t("user");
  const onDevice = deviceSentence(s, phase, conn);
  if (onDevice) return onDevice;
  switch (phase) {
    case "ended":
      return s.aborted ? t("conn.aborted") : endText(s.ended);
    case "reconnecting":
      return !s.signalingDown && linkDown(s) ? linkLostSentence(s) : t("say.reconnecting");
    case "elsewhere":
      return t("say.elsewhere");
    case "waiting":
      return secondsLeft(s.expiresAt, Date.now()) === 0 ? t("say.expired") : t("conn.waiting");
    case "paused":
      return t("say.paused", { user });
    case "verifying":
      if (s.reverify) return s.technicianSasConfirmed ? t("say.verify_again_wait") : t("say.verify_again");
      return s.technicianSasConfirmed ? t("say.verifying_consent") : t("say.verifying");
    case "active": {
      if (s.mode === "browser") return t("say.active_browser");
      if (controlState(s) === "active") return t("say.active_control");
      const why = controlWaitingFor(s);
      if (why.length) return why.map((w) => t(`waiting.${w}`)).join(" ");
      const granted = s.control.granted.length ? s.control.granted : s.granted;
      if (!granted.includes("control") && desktopDeniesControl(s)) return desktopControlWhy(s); // not the user's "no"
      return granted.includes("control") ? t("conn.active") : t("say.active_view");
    }
    default:
      return t(`conn.${conn}`);
  }
}

/** The brief notice for an input that did not leave (a click or key while control is off). */
export function notSentKey(s) {
  if (s.elsewhere) return "say.elsewhere";
  if (linkDown(s) || s.reverify) return "notice.reconnecting";
  if (s.mode === "browser") return "notice.browser";
  if (controlState(s) === "paused") return "notice.paused";
  // the desktop's "no" (not the user's: unticked in veo's dialog, it is theirs, said below)
  if (desktopDeniesControl(s) && !s.desktop.limits.includes("control_at_start")) return "notice.desktop_view_only";
  const granted = s.control.granted.length ? s.control.granted : s.granted;
  if (!granted.includes("control") && !s.requested.includes("control")) return "notice.view_only";
  if (s.consented && !granted.includes("control")) return "notice.not_granted";
  return "notice.not_yet";
}

export class ConsoleView {
  constructor(doc) {
    this.doc = doc;
    this.el = {
      root: byId(doc, "console"),
      conn: byId(doc, "conn-state"),
      badge: byId(doc, "state-badge"),
      sentence: byId(doc, "state-sentence"),
      control: byId(doc, "control-state"),
      verify: byId(doc, "verify-bar"),
      sas: byId(doc, "sas-code"),
      sasHint: byId(doc, "sas-hint"),
      sasInfo: byId(doc, "sas-info"),
      sasMismatch: byId(doc, "sas-mismatch"),
      sasMatch: byId(doc, "sas-match"),
      sasConfirmed: byId(doc, "sas-confirmed"),
      sasState: byId(doc, "sas-state"),
      identityBar: byId(doc, "identity-bar"),
      identity: byId(doc, "identity-state"),
      identityPrompt: byId(doc, "identity-prompt"),
      controlWhy: byId(doc, "control-why"),
      granted: byId(doc, "granted"),
      error: byId(doc, "error-banner"),
      dropped: byId(doc, "dropped-notice"),
      waiting: byId(doc, "waiting-panel"),
      session: byId(doc, "session-area"),
      ended: byId(doc, "ended-panel"),
      endReason: byId(doc, "end-reason"),
      endDuration: byId(doc, "end-duration"),
      noteForm: byId(doc, "note-form"),
      noteTab: byId(doc, "tab-notes"),
      endedSlot: byId(doc, "ended-note-slot"),
      endButton: byId(doc, "end-session"),
      expiry: byId(doc, "code-expiry"),
      newCode: byId(doc, "new-code-form"),
      newCodeEnded: byId(doc, "new-code-ended"),
      agentInfo: byId(doc, "agent-info"),
      stopKey: byId(doc, "stop-key"),
      paused: byId(doc, "paused-overlay"),
      linkLost: byId(doc, "link-overlay"),
      notice: byId(doc, "input-notice"),
      stageMessage: byId(doc, "stage-message"),
    };
    setText(this.el.stopKey, t("session.stop_key", { keys: keyCombo(STOP_KEY) }));
  }

  render(s, nowMs = Date.now()) {
    const el = this.el;
    const conn = connectionState(s);
    const phase = sessionPhase(s);
    const control = controlState(s);
    const over = conn === "ended" || conn === "aborted";

    // Header: the state as a badge and a sentence (#conn-state keeps the connection state too).
    el.conn.dataset.state = conn;
    el.conn.dataset.phase = phase;
    if (el.root) el.root.dataset.phase = phase;
    // "User joined" would be wrong on a managed device: veo started there, nobody typed a code.
    setText(el.badge, t(s.device && phase === "joined" ? "device.phase_joined" : `phase.${phase}`));
    setText(el.sentence, stateSentence(s, nowMs));
    el.control.dataset.state = control;
    setText(el.control, t(`control.${control}`));

    // The verification step, in the header while it is pending; then a small "verified" mark. A
    // new connection that needs the codes compared again shows it again (`reverify`).
    // A managed device's session has no step: its code is shown for information only, until the
    // session is allowed (the person at the device may read it in veo's dialog meanwhile).
    // A resume without proof compares a new code on every session, a device's too (its agent asks).
    const sasInfo = Boolean(s.device) && !s.reverify && Boolean(s.sas) && !over && !s.consented;
    const sasPending = (!s.device || s.reverify) && Boolean(s.sas) && !over && !s.technicianSasConfirmed;
    if (el.verify) {
      el.verify.dataset.again = s.reverify ? "true" : "false";
      el.verify.dataset.info = sasInfo ? "true" : "false";
    }
    setHidden(el.verify, !sasPending && !sasInfo);
    setHidden(el.sasInfo, !sasInfo);
    setText(el.sas, s.sas ? displayCode(s.sas) : "");
    setHidden(el.sasHint, !sasPending);
    setHidden(el.sasMismatch, !sasPending);
    setHidden(el.sasMatch, !sasPending);
    setHidden(el.sasConfirmed, !s.technicianSasConfirmed || over);
    setText(el.sasState, s.technicianSasConfirmed ? t("sas.confirmed") : t("sas.pending"));

    const method = IDENTITY_METHODS.includes(s.identity) ? s.identity : "none";
    if (el.identity) {
      setText(el.identity, t(`identity.${method}`));
      el.identity.dataset.recorded = method === "none" ? "false" : "true";
      el.identity.dataset.required = s.identityRequired ? "true" : "false";
    }
    // How the user's identity was confirmed: asked once the code is confirmed, until recorded.
    setHidden(el.identityBar, over || !s.technicianSasConfirmed || method !== "none");
    if (el.identityBar) el.identityBar.dataset.required = s.identityRequired ? "true" : "false";
    setText(el.identityPrompt, s.identityRequired ? t("waiting.identity") : t("identity.choose"));

    if (el.controlWhy) {
      const why = controlWaitingFor(s);
      // A browser share (join page, getDisplayMedia) can only show the screen: say why, say what helps.
      const browser = s.mode === "browser" && !over;
      const desktop = over ? "" : desktopControlWhy(s); // the user's desktop allows no control
      const said = browser ? t("control.browser_share") : desktop || why.map((w) => t(`waiting.${w}`)).join(" ");
      setText(el.controlWhy, said);
      setHidden(el.controlWhy, !said);
      el.controlWhy.dataset.mode = browser ? "browser" : "agent";
    }

    const granted = s.control.granted.length ? s.control.granted : s.granted;
    setText(el.granted, granted.length ? permissionList(granted) : t("perm.none"));

    setText(el.error, s.error);
    // The header already says "Reconnecting": no second banner for the same thing.
    setHidden(el.error, !s.error || (phase === "reconnecting" && s.error === t("error.reconnecting")));
    setText(el.dropped, s.dropped ? droppedText(s.dropped) : "");
    setHidden(el.dropped, !s.dropped || over);

    // The stage: the waiting card, the video with what is said over it, or the end card.
    setHidden(el.waiting, conn !== "waiting");
    setHidden(el.session, conn === "waiting" || over);
    setHidden(el.ended, !over);
    setText(el.paused, phase === "paused" ? t("say.paused", { user: t("user") }) : "");
    setHidden(el.paused, phase !== "paused");
    // The link to the user's computer is down: said over the (frozen) picture; without a picture
    // the stage message says it.
    const lost = phase === "reconnecting" && !s.signalingDown && linkDown(s);
    setText(el.linkLost, lost && s.frames ? linkLostDetail(s, nowMs) : "");
    setHidden(el.linkLost, !(lost && s.frames));
    setText(el.notice, s.notice ? t(s.notice.key, { user: t("user"), ...s.notice.params }) : "");
    setHidden(el.notice, !s.notice || over);
    if (el.notice && s.notice) el.notice.dataset.key = s.notice.key;
    const quiet = over || conn === "waiting" || s.frames;
    setText(el.stageMessage, quiet ? "" : lost ? linkLostDetail(s, nowMs) : stateSentence(s, nowMs));
    setHidden(el.stageMessage, quiet);

    // The note goes with the end card once the session is over (it lives in the tools panel before);
    // a code that expired unused gets a new code instead: there is nothing to note.
    const unused = over && Boolean(s.ended) && s.ended.reason === "expired";
    if (over && el.noteForm && el.endedSlot && el.noteForm.parentElement !== el.endedSlot) {
      el.endedSlot.append(el.noteForm);
    }
    setHidden(el.endedSlot, unused);
    setHidden(el.newCodeEnded, !unused);
    setHidden(el.noteTab, over);
    const why = s.aborted ? { by: "technician", reason: s.abortReason } : s.ended;
    setText(el.endReason, over ? (s.aborted ? t("conn.aborted") : endText(why)) : "");
    const lasted = over && s.startedAt ? ((s.endedAt || new Date(nowMs)).getTime() - s.startedAt.getTime()) / 1000 : -1;
    setText(el.endDuration, lasted >= 0 ? t("end.duration", { duration: durationText(lasted) }) : "");
    setHidden(el.endDuration, lasted < 0);
    if (el.endButton) el.endButton.disabled = over || s.ending;

    if (el.agentInfo) {
      const info = s.agent && (s.agent.platform || s.agent.address);
      setText(el.agentInfo, info ? [s.agent.platform, s.agent.address].filter(Boolean).join(" · ") : "—");
    }

    if (el.expiry) {
      const left = secondsLeft(s.expiresAt, nowMs);
      if (left === null) setText(el.expiry, "");
      else if (left > 0) setText(el.expiry, t("code.expires_in", { time: formatCountdown(left) }));
      else setText(el.expiry, t("code.expired"));
      const expired = left === 0 && conn === "waiting";
      setHidden(el.newCode, !expired);
      if (el.waiting) el.waiting.dataset.expired = expired ? "true" : "false";
    }
  }
}
