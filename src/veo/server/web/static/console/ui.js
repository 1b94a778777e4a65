// Renders the console state into the page. The only module that writes to the DOM.

import { displayCode } from "./sas.js";
import { t } from "./i18n.js";
import { connectionState, controlState, controlWaitingFor, formatCountdown, secondsLeft } from "./state.js";

const PERMISSION_KEYS = ["view", "control", "clipboard", "files"];

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

/** Why the session ended, in words for the technician. */
export function endText(ended) {
  if (!ended) return "";
  const known = {
    denied: "end.denied",
    expired: "end.expired",
    timeout: "end.timeout",
    sas_commitment_mismatch: "end.sas_failed",
    sas_mismatch: "end.sas_mismatch",
    sas_mismatch_user: "end.sas_mismatch_user",
  };
  if (known[ended.reason]) return t(known[ended.reason]);
  const who = { technician: "end.by_technician", user: "end.by_user", system: "end.by_system" };
  const base = t(who[ended.by] || "end.by_system");
  return ended.reason ? `${base} ${t("end.reason", { reason: ended.reason })}` : base;
}

const DROPPED_REASONS = [
  "control_not_granted",
  "control_paused",
  "sas_not_confirmed",
  "technician_not_confirmed",
  "identity_not_confirmed",
  "not_consented",
  "invalid",
  "monitor_not_found",
  "monitors_unavailable",
  "capture_failed",
  "browser_share",
];
const IDENTITY_METHODS = ["email_link", "phone_questions", "managed_device", "not_verified"];

/** Why the agent refused an input, in words (unknown reasons are shown as the agent sent them). */
export function droppedText(reason) {
  return DROPPED_REASONS.includes(reason) ? t(`dropped.${reason}`) : t("dropped", { reason });
}

export class ConsoleView {
  constructor(doc) {
    this.doc = doc;
    this.el = {
      conn: byId(doc, "conn-state"),
      control: byId(doc, "control-state"),
      sas: byId(doc, "sas-code"),
      sasHint: byId(doc, "sas-hint"),
      sasMismatch: byId(doc, "sas-mismatch"),
      sasMatch: byId(doc, "sas-match"),
      sasConfirmed: byId(doc, "sas-confirmed"),
      identity: byId(doc, "identity-state"),
      controlWhy: byId(doc, "control-why"),
      identityForm: byId(doc, "identity-form"),
      granted: byId(doc, "granted"),
      error: byId(doc, "error-banner"),
      dropped: byId(doc, "dropped-notice"),
      waiting: byId(doc, "waiting-panel"),
      session: byId(doc, "session-area"),
      ended: byId(doc, "ended-panel"),
      endReason: byId(doc, "end-reason"),
      noteForm: byId(doc, "note-form"),
      endButton: byId(doc, "end-session"),
      expiry: byId(doc, "code-expiry"),
      agentInfo: byId(doc, "agent-info"),
    };
  }

  render(s, nowMs = Date.now()) {
    const el = this.el;
    const conn = connectionState(s);
    const control = controlState(s);
    const over = conn === "ended" || conn === "aborted";

    el.conn.dataset.state = conn;
    setText(el.conn, t(`conn.${conn}`));
    el.control.dataset.state = control;
    setText(el.control, t(`control.${control}`));

    setText(el.sas, s.sas ? displayCode(s.sas) : "");
    setHidden(el.sasHint, !s.sas || over);
    setHidden(el.sasMismatch, !s.sas || over);
    setHidden(el.sasMatch, !s.sas || over || s.technicianSasConfirmed);
    setHidden(el.sasConfirmed, !s.technicianSasConfirmed || over);

    if (el.identity) {
      const method = IDENTITY_METHODS.includes(s.identity) ? s.identity : "none";
      setText(el.identity, t(`identity.${method}`));
      el.identity.dataset.recorded = method === "none" ? "false" : "true";
      el.identity.dataset.required = s.identityRequired ? "true" : "false";
    }
    setHidden(el.identityForm, over);
    if (el.controlWhy) {
      const why = controlWaitingFor(s);
      // A browser share (join page, getDisplayMedia) can only show the screen: say why, say what helps.
      const browser = s.mode === "browser" && !over;
      setText(el.controlWhy, browser ? t("control.browser_share") : why.map((w) => t(`waiting.${w}`)).join(" "));
      setHidden(el.controlWhy, !browser && why.length === 0);
      el.controlWhy.dataset.mode = browser ? "browser" : "agent";
    }

    const granted = s.control.granted.length ? s.control.granted : s.granted;
    setText(el.granted, granted.length ? permissionList(granted) : t("perm.none"));

    setText(el.error, s.error);
    setHidden(el.error, !s.error);
    setText(el.dropped, s.dropped ? droppedText(s.dropped) : "");
    setHidden(el.dropped, !s.dropped || over);

    setHidden(el.waiting, conn !== "waiting");
    setHidden(el.session, conn === "waiting" || over);
    setHidden(el.ended, !over);
    setHidden(el.noteForm, !over);
    const why = s.aborted ? { by: "technician", reason: s.abortReason } : s.ended;
    setText(el.endReason, over ? endText(why) : "");
    if (el.endButton) el.endButton.disabled = over || s.ending;

    if (el.agentInfo) {
      const info = s.agent && (s.agent.platform || s.agent.address);
      setText(el.agentInfo, info ? t("agent.info", { platform: s.agent.platform || "?", address: s.agent.address || "?" }) : "");
    }

    if (el.expiry) {
      const left = secondsLeft(s.expiresAt, nowMs);
      if (left === null) setText(el.expiry, "");
      else if (left > 0) setText(el.expiry, t("code.expires_in", { time: formatCountdown(left) }));
      else setText(el.expiry, t("code.expired"));
    }
  }
}
