// Asking the user for more permission mid-session (control, clipboard, files).
//
// A view-only session need not be ended to get control: "Ask for control" (or "Ask for more…" with
// a box per permission) sends `permission_request` over signaling. The server refuses what the
// role's policy does not allow, a browser share, a second question while one waits and a permission
// the user has just refused, each with a sentence (`error`); otherwise the user gets a prompt of
// its own and the console hears `permission_status` (pending, then accepted/refused/timeout).
// Only permissions the role allows and the session lacks are offered. The agent's data-channel
// `control{granted}` stays the truth: input is enabled by it, never by this module.
//
// Texts and the role's permissions come from the page's JSON block `console-permissions`
// (rendered with gettext by console.html).

import { desktopDeniesControl } from "./desktop.js";

const ASKABLE = ["control", "clipboard", "files"];
/** Error codes of the server that answer a question (shown here rather than as a page error). */
const REFUSALS = new Set([
  "beyond_policy",
  "permission_browser_share",
  "permission_already_granted",
  "permission_pending",
  "permission_cooldown",
]);

/**
 * What may be asked now in console state `s`: permissions the role allows (`allowed`) that the
 * session lacks (the agent's `control.granted` when it spoke, else the server's record), once the
 * user allowed the session, never in a browser share (it can only show the screen), never after it.
 */
export function askableFor(s, allowed) {
  if (s.ended || s.aborted || !s.consented || s.mode === "browser") return [];
  const have = s.control && s.control.granted.length ? s.control.granted : s.granted;
  // the user's desktop allows no remote control (or it was switched off there): nothing to ask
  const never = desktopDeniesControl(s) ? ["control"] : [];
  return ASKABLE.filter((p) => allowed.includes(p) && !have.includes(p) && !never.includes(p));
}

function readConfig(doc) {
  const block = doc.getElementById("console-permissions");
  try {
    const data = JSON.parse((block && block.textContent) || "{}");
    return {
      allowed: Array.isArray(data.allowed) ? data.allowed.filter((p) => ASKABLE.includes(p)) : [],
      strings: data.strings && typeof data.strings === "object" ? data.strings : {},
    };
  } catch {
    return { allowed: [], strings: {} };
  }
}

function element(doc, tag, attrs = {}, text = "") {
  const el = doc.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  if (text) el.textContent = text;
  return el;
}

export function install(app, doc = document) {
  const { allowed, strings } = readConfig(doc);
  const t = (key, params = {}) =>
    String(Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key).replace(/\{(\w+)\}/g, (whole, name) =>
      Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
    );
  const names = (list) => list.map((p) => t(`perm.${p}`)).join(", ");

  let host = doc.getElementById("console-actions-extra");
  if (!host) {
    const end = doc.getElementById("end-form");
    if (!end || !end.parentNode) return null;
    host = element(doc, "div", { class: "console-actions-extra" });
    end.parentNode.insertBefore(host, end);
  }
  const root = element(doc, "div", { id: "permission-ask", class: "permission-ask" });
  const button = element(doc, "button", {
    id: "ask-permission",
    class: "button",
    type: "button",
    "aria-expanded": "false",
    "aria-controls": "ask-menu",
  });
  // With control missing, one click asks for it, and a narrow "▾" beside it ("Ask for more…" to
  // screen readers and as its tooltip) opens the menu for the rest: the header keeps its room.
  const more = element(doc, "button", {
    id: "ask-more",
    class: "button ask-more",
    type: "button",
    "aria-expanded": "false",
    "aria-controls": "ask-menu",
    "aria-label": t("ask.more"),
    title: t("ask.more"),
  }, "▾");
  const menu = element(doc, "div", { id: "ask-menu", class: "ask-menu", role: "dialog", "aria-labelledby": "ask-menu-title" });
  menu.hidden = true;
  menu.append(element(doc, "p", { id: "ask-menu-title", class: "ask-menu-title" }, t("ask.menu_title")));
  const boxes = new Map();
  for (const permission of ASKABLE) {
    const label = element(doc, "label", { class: "ask-choice" });
    const box = element(doc, "input", { type: "checkbox", value: permission, id: `ask-${permission}` });
    label.append(box, doc.createTextNode(` ${t(`perm.${permission}`)}`));
    boxes.set(permission, { label, box });
    menu.append(label);
  }
  const actions = element(doc, "p", { class: "ask-menu-actions" });
  const send = element(doc, "button", { id: "ask-send", class: "button primary", type: "button" }, t("ask.send"));
  const cancel = element(doc, "button", { id: "ask-cancel", class: "button", type: "button" }, t("ask.cancel"));
  actions.append(send, cancel);
  menu.append(actions, element(doc, "p", { class: "ask-menu-hint" }, t("ask.hint")));
  const status = element(doc, "span", { id: "ask-status", class: "ask-status", role: "status", "aria-live": "polite" });
  status.hidden = true;
  root.append(button, more, menu, status);
  host.append(root);

  /** The question waiting for the user: {permissions, until (ms)} or null. */
  let pending = null;

  const askable = () => askableFor(app.state, allowed);

  /** How long an answer stays under the button (a question still waiting stays until answered). */
  const SAY_MS = 12000;
  let sayTimer = null;

  function say(key, params = {}, text = "") {
    status.textContent = text || t(key, params);
    status.dataset.state = key;
    status.hidden = false;
    clearTimeout(sayTimer);
    if (key !== "ask.pending" && key !== "ask.sending") sayTimer = setTimeout(() => (status.hidden = true), SAY_MS);
  }
  status.addEventListener("click", () => {
    if (status.dataset.state !== "ask.pending") status.hidden = true;
  });

  function closeMenu() {
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    more.setAttribute("aria-expanded", "false");
  }

  function toggleMenu(opener) {
    if (!menu.hidden) {
      closeMenu();
      return;
    }
    const can = askable();
    for (const [permission, { label, box }] of boxes) {
      label.hidden = !can.includes(permission);
      box.checked = permission === can[0];
    }
    menu.hidden = false;
    opener.setAttribute("aria-expanded", "true");
    const first = boxes.get(can[0]);
    if (first) first.box.focus();
  }

  function ask(permissions) {
    if (!permissions.length) return;
    if (!app.signaling.send("permission_request", { permissions })) {
      say("ask.not_connected");
      return;
    }
    closeMenu();
    say("ask.sending", { permissions: names(permissions) });
  }

  button.addEventListener("click", () => {
    if (askable().includes("control")) ask(["control"]);
    else toggleMenu(button);
  });
  more.addEventListener("click", () => toggleMenu(more));
  send.addEventListener("click", () => ask(ASKABLE.filter((p) => boxes.get(p).box.checked && askable().includes(p))));
  cancel.addEventListener("click", closeMenu);
  doc.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !menu.hidden) closeMenu();
  });

  app.onSignalType("permission_status", (m) => {
    const asked = Array.isArray(m.permissions) ? m.permissions.filter((p) => ASKABLE.includes(p)) : [];
    const got = Array.isArray(m.granted) ? m.granted.filter((p) => asked.includes(p)) : [];
    if (m.state === "pending") {
      const seconds = Number.isInteger(m.timeout_seconds) ? m.timeout_seconds : 75;
      pending = { permissions: asked, until: Date.now() + seconds * 1000 };
      say("ask.pending", { permissions: names(asked) });
      return;
    }
    pending = null;
    if (m.state === "accepted") {
      const kept = asked.filter((p) => !got.includes(p));
      if (kept.length) say("ask.accepted_some", { granted: names(got), refused: names(kept) });
      else say("ask.accepted", { permissions: names(got) });
    } else if (m.state === "refused") {
      say("ask.refused", { permissions: names(asked) });
    } else if (m.state === "timeout") {
      say("ask.timeout");
    }
    render();
  });
  app.onSignalType("session_state", (m) => {
    const waiting = Array.isArray(m.permission_pending) ? m.permission_pending.filter((p) => ASKABLE.includes(p)) : [];
    if (waiting.length && !pending) {
      pending = { permissions: waiting, until: Date.now() + 75000 };
      say("ask.pending", { permissions: names(waiting) });
    } else if (!waiting.length && pending && status.dataset.state === "ask.pending") {
      pending = null; // answered while this page was away: the grant shows it
      status.hidden = true;
    }
    render();
  });
  app.onSignalType("error", (m) => {
    if (!REFUSALS.has(m.code)) return;
    if (m.code !== "permission_pending") pending = null;
    say(`ask.error.${m.code}`, {}, String(m.message || ""));
    app.clearError("session"); // said here, beside the button, not as a page error
    render();
  });

  function render() {
    if (pending && Date.now() > pending.until) {
      pending = null;
      say("ask.timeout");
    }
    const can = askable();
    const show = can.length > 0 || Boolean(pending);
    root.hidden = !show && status.hidden;
    const control = can.includes("control");
    button.hidden = can.length === 0;
    button.disabled = Boolean(pending);
    button.textContent = control ? t("ask.control") : t("ask.more");
    button.setAttribute("aria-haspopup", control ? "false" : "dialog");
    more.hidden = !control || can.length < 2;
    more.disabled = Boolean(pending);
    if (!can.length) closeMenu();
    if (app.state.ended || app.state.aborted) {
      root.hidden = true;
      pending = null;
    }
  }
  render();
  setInterval(render, 500);
  return { render, askable };
}
