// Chat with the user, both ways on the data channel, in the shared chat panel (shared/chatbox.js).
//
// The transcript goes to the ticket (POST /api/v1/sessions/<id>/chat-transcript, an internal
// comment) when this console sees the session end, and on `pagehide` by navigator.sendBeacon, so a
// technician closing the tab mid-session still leaves it on the ticket. The server keeps one
// transcript per session and replaces it only by a post with at least as many lines, so the two
// posts (and a reload) never lose lines. Both sides say beforehand that the chat is attached.

import { ChatBox } from "/static/shared/chatbox.js";
import { csrfToken } from "../shared/csrf.js";
import { t } from "./i18n.js";

const POLL_MS = 500;

export function install(app, doc = document) {
  const container = doc.getElementById("chat-panel");
  if (!container) return null;
  const ticketId = container.dataset.ticketId || "";
  const url = `/api/v1/sessions/${encodeURIComponent(app.sessionId)}/chat-transcript`;
  const status = doc.getElementById("chat-attached");
  let counter = 0;
  let attachedLines = 0;

  const box = new ChatBox(container, {
    idPrefix: "chat",
    strings: {
      title: t("chat.title"),
      send: t("chat.send"),
      placeholder: t("chat.placeholder"),
      me: t("chat.me"),
      them: t("chat.them"),
      unread: t("chat.unread"),
      empty: t("chat.empty"),
      read: t("chat.read"),
    },
    onSend: (text) => {
      counter += 1;
      const id = `t${Date.now().toString(36)}${counter.toString(36)}`;
      return app.sendData({ type: "chat", v: 1, id, text }) ? id : null;
    },
    onRead: (id) => app.sendData({ type: "chat_read", v: 1, id }),
  });
  app.chatBox = box; // the tools panel counts its unread lines on the tab
  box.setNotice(t("chat.notice", { ticket: ticketId }));
  box.setEnabled(app.dataOpen());

  app.onDataType("chat", (m) => {
    if (typeof m.text === "string") box.receive({ id: m.id, text: m.text });
  });
  app.onDataType("chat_read", (m) => {
    if (typeof m.id === "string") box.acknowledge(m.id);
  });

  // The data channel opens and closes with the peer; follow it without a hook into every render.
  let closed = false;
  const poll = setInterval(() => {
    box.setEnabled(app.dataOpen());
    if ((app.state.ended || app.state.aborted) && !closed) {
      closed = true; // the notice spoke of a session still to end; say it is over
      box.setNotice(t("chat.closed"));
    }
    if (app.state.ended || app.state.aborted) attach(false);
  }, POLL_MS);

  function lines() {
    return box.transcript().map((line) => ({
      id: line.id,
      from: line.from === "me" ? "technician" : "user",
      text: line.text,
      at: line.at.toISOString(),
    }));
  }

  function show(key) {
    if (!status) return;
    status.textContent = t(key, { ticket: ticketId });
    status.dataset.state = key;
    status.hidden = false;
  }

  let posting = false;
  let failures = 0;
  /** Post the transcript unless the server already has all of it; `beacon` when the page goes away. */
  function attach(beacon) {
    const all = lines();
    if (!all.length || all.length <= attachedLines || posting || failures >= 3) return;
    const form = new FormData();
    form.append("csrf_token", csrfToken(doc));
    form.append("transcript", JSON.stringify(all));
    if (beacon) {
      if (navigator.sendBeacon && navigator.sendBeacon(url, form)) attachedLines = all.length;
      return;
    }
    posting = true;
    fetch(url, { method: "POST", body: form, credentials: "same-origin" })
      .then((response) => {
        if (response.ok) {
          attachedLines = all.length;
          show("chat.attached");
        } else {
          attachedLines = all.length; // a refusal will not change by posting the same again
          show("chat.attach_failed");
        }
      })
      .catch(() => {
        failures += 1; // the server is unreachable: a few tries, then say so and stop
        show("chat.attach_failed");
      })
      .finally(() => {
        posting = false;
        if (app.state.ended || app.state.aborted) clearInterval(poll);
      });
  }

  window.addEventListener("pagehide", () => attach(true));
  return box;
}
