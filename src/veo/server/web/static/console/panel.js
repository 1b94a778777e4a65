// The tools panel beside the remote screen: one tab per tool (chat, files, clipboard, system
// information, session details, note), one shown at a time, and the header's Tools button that
// folds the panel away so the screen gets the whole width.
//
// A tab whose feature needs a permission (data-needs) is shown only when the technician asked
// for it or the user granted it (a grant may come later, mid-session): a feature nobody asked for
// is not on the page at all. The chat tab counts unread lines ("Chat (2 new messages)").

import { desktopDeniesControl } from "./desktop.js";
import { tn, t } from "./i18n.js";

const POLL_MS = 500;
const STORE_KEY = "veo.console.tools";

/** Whether an element with data-needs="<permission>" belongs on the page in state `s`. */
export function needed(permission, s) {
  if (!permission) return true;
  if (permission === "control" && desktopDeniesControl(s)) return false; // the user's desktop allows none
  const granted = s.control.granted.length ? s.control.granted : s.granted;
  return s.requested.includes(permission) || granted.includes(permission);
}

class ToolsPanel {
  constructor(app, doc) {
    this.app = app;
    this.doc = doc;
    this.root = doc.getElementById("console");
    this.panel = doc.getElementById("tools-panel");
    this.toggle = doc.getElementById("tools-toggle");
    this.tabs = [...this.panel.querySelectorAll(".tools-tab")];
    this.needy = [...doc.querySelectorAll("[data-needs]")];
    this.chatTab = doc.getElementById("tab-chat");
    this.unread = 0;
    for (const tab of this.tabs) {
      tab.addEventListener("click", () => this.select(tab.dataset.tool));
      tab.addEventListener("keydown", (e) => this.onKey(e, tab));
    }
    if (this.toggle) this.toggle.addEventListener("click", () => this.setOpen(this.root.dataset.tools === "closed"));
    let open = true;
    try {
      open = doc.defaultView.localStorage.getItem(STORE_KEY) !== "closed";
    } catch {
      open = true; // storage refused (privacy settings): the panel simply starts open
    }
    this.setOpen(open, false);
    if (app.chatBox) app.chatBox.onUnread = (count) => this.onUnread(count);
    this.refresh();
    setInterval(() => this.refresh(), POLL_MS);
  }

  setOpen(open, remember = true) {
    this.root.dataset.tools = open ? "open" : "closed";
    this.panel.hidden = !open;
    if (this.toggle) this.toggle.setAttribute("aria-expanded", String(open));
    if (remember) {
      try {
        this.doc.defaultView.localStorage.setItem(STORE_KEY, open ? "open" : "closed");
      } catch {
        // not remembered; nothing else depends on it
      }
    }
    // The video box changed size: the pointer, drawings and the remote cursor follow it.
    this.doc.defaultView.dispatchEvent(new Event("resize"));
  }

  select(tool) {
    const tab = this.tabs.find((b) => b.dataset.tool === tool);
    if (!tab || tab.hidden) return;
    for (const b of this.tabs) {
      const on = b === tab;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      const section = this.doc.getElementById(b.getAttribute("aria-controls"));
      if (section) section.hidden = !on;
    }
    if (tool === "chat" && this.app.chatBox) this.app.chatBox.markRead();
    if (!this.panel.hidden) return;
    this.setOpen(true);
  }

  /** Arrow keys move between tabs (the WAI-ARIA tabs pattern). */
  onKey(event, tab) {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const shown = this.tabs.filter((b) => !b.hidden);
    const step = event.key === "ArrowRight" ? 1 : -1;
    const next = shown[(shown.indexOf(tab) + step + shown.length) % shown.length];
    this.select(next.dataset.tool);
    next.focus();
    event.preventDefault();
  }

  onUnread(count) {
    this.unread = count;
    this.label();
  }

  label() {
    if (!this.chatTab) return;
    const text = this.unread > 0 ? tn("tab.chat_unread", this.unread) : t("tab.chat");
    if (this.chatTab.textContent !== text) this.chatTab.textContent = text;
    this.chatTab.dataset.unread = String(this.unread);
    // With the panel folded away, the Tools button carries the count so no message goes unseen.
    if (this.toggle) this.toggle.dataset.unread = String(this.unread);
  }

  /** Show what the technician asked for or the user granted; leave a hidden tab if it was open. */
  refresh() {
    const s = this.app.state;
    for (const node of this.needy) node.hidden = !needed(node.dataset.needs, s);
    const current = this.tabs.find((b) => b.getAttribute("aria-selected") === "true");
    if (!current || current.hidden) this.select("chat");
    this.label();
  }
}

/** Feature entry point (console.js FEATURES); after chat.js, whose box it labels. */
export function install(app, doc = document) {
  if (!doc.getElementById("tools-panel")) return;
  app.toolsPanel = new ToolsPanel(app, doc);
}
