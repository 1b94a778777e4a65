// Clipboard text, both ways, only when the user granted "clipboard" (the agent judges it again).
//
// Out: the panel's textarea + "Send to the user's clipboard", and Ctrl+V while the remote video has
// focus (the browser's paste event; keyboard.js may also type it when control is active). In: the
// user's copies arrive as `clipboard` messages and are shown with a Copy button.

import { t } from "./i18n.js";

const MAX_CHARS = 60000;
const POLL_MS = 500;

export function install(app, doc = document) {
  const panel = doc.getElementById("clipboard-panel");
  if (!panel) return null;
  const out = doc.getElementById("clipboard-out");
  const send = doc.getElementById("clipboard-send");
  const incoming = doc.getElementById("clipboard-in");
  const copy = doc.getElementById("clipboard-copy");
  const status = doc.getElementById("clipboard-status");

  const granted = () => app.state.control.granted.includes("clipboard");
  const usable = () => granted() && app.dataOpen();

  function say(key, params = {}) {
    status.textContent = t(key, params);
    status.dataset.state = key;
  }

  function sendText(text, source) {
    if (!text) return false;
    if (!usable()) {
      say("clipboard.not_granted");
      return false;
    }
    const clipped = Array.from(String(text)).slice(0, MAX_CHARS).join("");
    if (!app.sendData({ type: "clipboard", v: 1, text: clipped })) {
      say("clipboard.not_sent");
      return false;
    }
    say(source === "paste" ? "clipboard.pasted" : "clipboard.sent");
    return true;
  }

  send.addEventListener("click", () => sendText(out.value, "button"));
  // A paste on the (non-editable) video is dispatched to the document.
  doc.addEventListener("paste", (event) => {
    if (doc.activeElement !== (app.inputLayer || app.video) || !granted()) return;
    const text = event.clipboardData ? event.clipboardData.getData("text/plain") : "";
    sendText(text, "paste");
  });

  app.onDataType("clipboard", (m) => {
    if (typeof m.text !== "string") return;
    incoming.textContent = m.text.slice(0, MAX_CHARS);
    incoming.dataset.filled = "true";
    copy.disabled = false;
    say("clipboard.received");
  });

  copy.addEventListener("click", () => {
    const text = incoming.textContent || "";
    if (!text || !navigator.clipboard) return;
    navigator.clipboard.writeText(text).then(
      () => say("clipboard.copied"),
      () => say("clipboard.copy_failed"),
    );
  });

  function refresh() {
    const on = usable();
    panel.dataset.granted = granted() ? "true" : "false";
    send.disabled = !on;
    out.disabled = !on;
    // Said only about a clipboard the technician asked for (panel.js hides it otherwise).
    const asked = app.state.requested.includes("clipboard");
    const quiet = !status.dataset.state || status.dataset.state === "clipboard.waiting";
    if (!granted() && asked && !app.state.consented && quiet) say("clipboard.waiting");
    else if (!granted() && asked && app.state.consented && quiet) say("clipboard.not_granted");
    else if (granted() && ["clipboard.not_granted", "clipboard.waiting"].includes(status.dataset.state)) say("clipboard.ready");
  }
  copy.disabled = true;
  refresh();
  setInterval(refresh, POLL_MS);
  return { sendText };
}
