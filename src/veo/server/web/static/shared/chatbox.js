// A chat panel for one conversation between two people: the technician console and the browser
// share (join page) both use it. Plain DOM, no framework, no text of its own: every string is
// passed in (translated by the page). It only draws and collects; the page sends and receives.
//
// API (stable; the join page relies on it):
//
//   import { ChatBox } from "/static/shared/chatbox.js";
//   const box = new ChatBox(container, {
//     idPrefix: "chat",            // ids of the parts: chat-log, chat-input, chat-send, chat-badge,
//                                  //   chat-notice, chat-toggle (tests and labels find them)
//     strings: {                   // all optional but `send`; {count} is replaced in `unread`
//       title: "Chat", send: "Send", placeholder: "Write a message",
//       me: "You", them: "User", unread: "{count} unread", notice: "", empty: "",
//       read: "Read", failed: "Not sent",
//     },
//     onSend: (text) => id | null, // send it; return the message id, or null when it could not leave
//     onRead: (id) => {},          // the person saw the other side's messages up to `id`
//     maxLength: 4000,             // as the protocol's Chat.text
//     collapsed: false,            // start folded (only the title, toggle and unread badge show)
//   });
//   box.receive({ id, text, at })  // a line from the other side (counts as unread until seen)
//   box.acknowledge(id)            // the other side read our lines up to `id` (shows "Read")
//   box.setNotice(text)            // e.g. "This chat will be attached to ticket #12" ("" hides it)
//   box.setEnabled(bool)           // the channel is (not) open: input and button disabled
//   box.markRead()                 // the person has seen everything (also on focus/click/unfold)
//   box.unread                     // number of unseen lines from the other side
//   box.transcript()               // [{id, from: "me"|"them", text, at: Date}], oldest first
//   box.onUnread = (count) => {}   // optional: called whenever the unread count changes
//
// A received line is unread until the person interacts with the panel (focus, click, unfold)
// while it is unfolded and the page is visible; then `onRead(lastId)` tells the other side.
// Message text is only ever set with textContent: a peer's text can never become markup.

const ID_RE = /^[A-Za-z0-9_-]{1,40}$/;

function el(doc, tag, className, attrs = {}) {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function timeText(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export class ChatBox {
  constructor(container, options = {}) {
    const doc = container.ownerDocument;
    this.doc = doc;
    this.strings = { title: "", send: "Send", placeholder: "", me: "", them: "", unread: "{count}", notice: "", empty: "", read: "", failed: "", ...(options.strings || {}) };
    this.onSend = options.onSend || (() => null);
    this.onRead = options.onRead || (() => {});
    this.onUnread = null;
    this.maxLength = options.maxLength || 4000;
    this.lines = [];
    this.unreadCount = 0;
    this.lastTheirs = null;
    this.lastReported = null;
    this.collapsed = Boolean(options.collapsed);
    const p = options.idPrefix || "chat";

    this.root = el(doc, "div", "chatbox");
    const head = el(doc, "div", "chatbox-head");
    this.toggle = el(doc, "button", "chatbox-toggle", { id: `${p}-toggle`, type: "button", "aria-expanded": String(!this.collapsed) });
    this.toggle.textContent = this.strings.title;
    this.badge = el(doc, "span", "chatbox-badge", { id: `${p}-badge`, role: "status", "aria-live": "polite" });
    this.badge.hidden = true;
    head.append(this.toggle, this.badge);

    this.body = el(doc, "div", "chatbox-body");
    this.notice = el(doc, "p", "chatbox-notice", { id: `${p}-notice` });
    this.notice.hidden = true;
    this.log = el(doc, "ol", "chatbox-log", { id: `${p}-log`, "aria-live": "polite", tabindex: "0" });
    this.empty = el(doc, "p", "chatbox-empty");
    this.empty.textContent = this.strings.empty;
    this.empty.hidden = !this.strings.empty;
    const form = el(doc, "form", "chatbox-form");
    this.input = el(doc, "textarea", "chatbox-input", { id: `${p}-input`, rows: "2", maxlength: String(this.maxLength) });
    if (this.strings.placeholder) {
      this.input.setAttribute("placeholder", this.strings.placeholder);
      this.input.setAttribute("aria-label", this.strings.placeholder);
    }
    this.button = el(doc, "button", "chatbox-send", { id: `${p}-send`, type: "submit" });
    this.button.textContent = this.strings.send;
    form.append(this.input, this.button);
    this.body.append(this.notice, this.log, this.empty, form);
    this.body.hidden = this.collapsed;
    this.root.append(head, this.body);
    container.append(this.root);

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.toggle.addEventListener("click", () => {
      this.collapsed = !this.collapsed;
      this.body.hidden = this.collapsed;
      this.toggle.setAttribute("aria-expanded", String(!this.collapsed));
      if (!this.collapsed) this.markRead();
    });
    this.root.addEventListener("focusin", () => this.markRead());
    this.root.addEventListener("click", () => this.markRead());
    doc.addEventListener("visibilitychange", () => {
      if (doc.visibilityState === "visible" && this.root.contains(doc.activeElement)) this.markRead();
    });
  }

  get unread() {
    return this.unreadCount;
  }

  /** Send what the person typed; the line shows only once `onSend` says it left. */
  submit() {
    const text = this.input.value.trim().slice(0, this.maxLength);
    if (!text || this.input.disabled) return;
    const id = this.onSend(text);
    if (!id) {
      this.input.setAttribute("aria-invalid", "true");
      return;
    }
    this.input.removeAttribute("aria-invalid");
    this.input.value = "";
    this.append({ id: String(id), from: "me", text, at: new Date() });
  }

  /** A line from the other side; ignored when malformed or already shown (same id). */
  receive({ id, text, at } = {}) {
    if (typeof id !== "string" || !ID_RE.test(id) || typeof text !== "string" || !text) return false;
    if (this.lines.some((line) => line.from === "them" && line.id === id)) return false;
    this.append({ id, from: "them", text: text.slice(0, this.maxLength), at: at instanceof Date ? at : new Date() });
    this.lastTheirs = id;
    const seen = !this.collapsed && this.doc.visibilityState !== "hidden" && this.root.contains(this.doc.activeElement);
    if (seen) this.markRead();
    else this.setUnread(this.unreadCount + 1);
    return true;
  }

  /** The other side read our lines up to `id`. */
  acknowledge(id) {
    const index = this.lines.findIndex((line) => line.from === "me" && line.id === id);
    if (index < 0) return;
    for (const line of this.lines.slice(0, index + 1)) {
      if (line.from === "me" && line.status) {
        line.status.textContent = this.strings.read;
        line.node.dataset.read = "true";
      }
    }
  }

  markRead() {
    if (this.collapsed || this.doc.visibilityState === "hidden") return;
    if (this.unreadCount) this.setUnread(0);
    if (this.lastTheirs && this.lastTheirs !== this.lastReported) {
      this.lastReported = this.lastTheirs;
      this.onRead(this.lastTheirs);
    }
  }

  setNotice(text) {
    this.notice.textContent = text || "";
    this.notice.hidden = !text;
  }

  setEnabled(enabled) {
    this.input.disabled = !enabled;
    this.button.disabled = !enabled;
  }

  transcript() {
    return this.lines.map(({ id, from, text, at }) => ({ id, from, text, at }));
  }

  // ---------------------------------------------------------------- drawing

  setUnread(count) {
    this.unreadCount = count;
    this.badge.textContent = count ? this.strings.unread.replace("{count}", String(count)) : "";
    this.badge.hidden = count === 0;
    this.root.dataset.unread = String(count);
    if (this.onUnread) this.onUnread(count);
  }

  append(line) {
    const item = el(this.doc, "li", `chatbox-line chatbox-${line.from}`);
    item.dataset.id = line.id;
    item.dataset.from = line.from;
    const meta = el(this.doc, "span", "chatbox-meta");
    const who = line.from === "me" ? this.strings.me : this.strings.them;
    meta.textContent = who ? `${who} · ${timeText(line.at)}` : timeText(line.at);
    const text = el(this.doc, "span", "chatbox-text");
    text.textContent = line.text;
    item.append(meta, text);
    const entry = { ...line, node: item, status: null };
    if (line.from === "me") {
      entry.status = el(this.doc, "span", "chatbox-status");
      item.append(entry.status);
    }
    this.lines.push(entry);
    this.log.append(item);
    this.empty.hidden = true;
    this.log.scrollTop = this.log.scrollHeight;
  }
}
