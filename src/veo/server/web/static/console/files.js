// File transfer, both ways, only when the user granted "files" (the agent judges every message
// and every frame again, and the user accepts each file and chooses where it goes).
//
// JSON messages (file_offer/accept/reject/progress/cancel/done) go on the main channel; the bytes
// go as binary frames on the agent's "veo-files" channel: 16-byte transfer id, 8-byte big-endian
// offset, then at most 16 KiB of payload. Sending keeps two brakes: the channel's bufferedAmount
// (waiting for `bufferedamountlow`) and the receiver's `file_progress` as a window of
// unacknowledged bytes. A received file is kept in memory, checked against its SHA-256, then
// offered as a download (Blob URL) and, if the technician chooses, attached to the ticket.

import { csrfToken } from "../shared/csrf.js";
import { t } from "./i18n.js";
import { linkDown } from "./state.js";

export const FILE_CHANNEL_LABEL = "veo-files";
const HEADER = 24;
const CHUNK = 16 * 1024;
const READ_BLOCK = 1024 * 1024;
const WINDOW = 2 * 1024 * 1024;
const BUFFER_HIGH = 1024 * 1024;
const BUFFER_LOW = 256 * 1024;
const PROGRESS_EVERY = 256 * 1024;
const ID = /^[0-9a-f]{32}$/;
const SHA = /^[0-9a-f]{64}$/;
const POLL_MS = 500;

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function newId() {
  return hex(crypto.getRandomValues(new Uint8Array(16)));
}

async function sha256Hex(buffer) {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", buffer)));
}

/** One frame: id (16 bytes) | offset (8, big endian) | payload. */
export function packChunk(id, offset, payload) {
  const frame = new Uint8Array(HEADER + payload.byteLength);
  for (let i = 0; i < 16; i += 1) frame[i] = parseInt(id.slice(i * 2, i * 2 + 2), 16);
  new DataView(frame.buffer).setBigUint64(16, BigInt(offset));
  frame.set(payload, HEADER);
  return frame;
}

/** [id, offset, payload] of a frame, or null when it cannot be one. */
export function unpackChunk(buffer) {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < HEADER || buffer.byteLength > HEADER + CHUNK) return null;
  const view = new DataView(buffer);
  return [hex(new Uint8Array(buffer, 0, 16)), Number(view.getBigUint64(16)), buffer.slice(HEADER)];
}

/** "1.5 MB": powers of 1000 like file managers. */
export function humanSize(size) {
  if (size < 1000) return t("files.bytes", { n: size });
  let value = size;
  for (const unit of ["KB", "MB", "GB", "TB"]) {
    value /= 1000;
    if (value < 1000 || unit === "TB") return `${value.toFixed(1)} ${unit}`;
  }
  return String(size);
}

export function install(app, doc = document) {
  const panel = doc.getElementById("files-panel");
  if (!panel) return null;
  const input = doc.getElementById("file-input");
  const sendButton = doc.getElementById("file-send");
  const list = doc.getElementById("file-list");
  const status = doc.getElementById("files-status");
  const maxBytes = Number(panel.dataset.maxFileBytes) || 100000000;
  const ticketId = panel.dataset.ticketId || "";
  /** id -> transfer ({dir, name, size, sha256, state, done, ...}) */
  const transfers = new Map();
  let channel = null;
  let wakeUp = null;

  const granted = () => app.state.control.granted.includes("files");
  const usable = () => granted() && app.dataOpen() && channel !== null && channel.readyState === "open";

  function say(key, params = {}) {
    status.textContent = t(key, params);
    status.dataset.state = key;
  }

  function wake() {
    if (wakeUp) wakeUp();
    wakeUp = null;
  }

  function nap(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  // ---------------------------------------------------------------- the list in the panel

  function row(tr) {
    const li = doc.createElement("li");
    li.className = "transfer";
    li.dataset.id = tr.id;
    li.dataset.direction = tr.dir;
    const title = doc.createElement("span");
    title.className = "transfer-name";
    title.textContent = `${tr.dir === "out" ? t("files.to_user") : t("files.from_user")} ${tr.name} (${humanSize(tr.size)})`;
    const bar = doc.createElement("progress");
    bar.className = "transfer-progress";
    bar.max = Math.max(1, tr.size);
    bar.value = 0;
    const text = doc.createElement("span");
    text.className = "transfer-state";
    const cancel = doc.createElement("button");
    cancel.type = "button";
    cancel.className = "transfer-cancel";
    cancel.textContent = t("files.cancel");
    cancel.addEventListener("click", () => cancelTransfer(tr.id, true));
    li.append(title, bar, text, cancel);
    list.prepend(li);
    tr.el = { li, bar, text, cancel };
  }

  function show(tr, state, key, params = {}) {
    tr.state = state;
    tr.el.li.dataset.state = state;
    tr.el.text.textContent = t(key, params);
    if (!["offered", "sending", "receiving", "checking"].includes(state)) tr.el.cancel.remove();
  }

  function progress(tr, done) {
    tr.done = done;
    tr.el.bar.value = done;
    tr.el.li.dataset.done = String(done);
  }

  // ---------------------------------------------------------------- console -> user

  async function offer(file) {
    if (!usable()) {
      say("files.not_granted");
      return;
    }
    if (file.size > maxBytes) {
      say("files.too_large", { max: humanSize(maxBytes) });
      return;
    }
    say("files.hashing");
    let digest;
    try {
      digest = await sha256Hex(await file.arrayBuffer());
    } catch {
      say("files.cannot_read");
      return;
    }
    const tr = { id: newId(), dir: "out", file, name: file.name, size: file.size, sha256: digest, acked: 0, sent: 0 };
    transfers.set(tr.id, tr);
    row(tr);
    show(tr, "offered", "files.waiting_user");
    say("");
    if (!app.sendData({ type: "file_offer", v: 1, id: tr.id, name: tr.name.slice(0, 255) || "file", size: tr.size, sha256: digest })) {
      show(tr, "failed", "files.not_granted");
    }
  }

  async function pump(tr) {
    show(tr, "sending", "files.sending");
    while (tr.sent < tr.size && tr.state === "sending") {
      const block = new Uint8Array(await tr.file.slice(tr.sent, Math.min(tr.size, tr.sent + READ_BLOCK)).arrayBuffer());
      let at = 0;
      while (at < block.byteLength && tr.state === "sending") {
        if (!usable()) {
          cancelTransfer(tr.id, true, linkDown(app.state) ? "files.link_lost" : "files.not_granted");
          return;
        }
        if (tr.sent - tr.acked >= WINDOW || channel.bufferedAmount > BUFFER_HIGH) {
          await nap(1000);
          continue;
        }
        const payload = block.subarray(at, at + CHUNK);
        channel.send(packChunk(tr.id, tr.sent, payload));
        at += payload.byteLength;
        tr.sent += payload.byteLength;
      }
    }
    if (tr.state === "sending") show(tr, "sending", "files.waiting_checksum");
  }

  // ---------------------------------------------------------------- user -> console

  function incomingOffer(m) {
    if (!ID.test(m.id) || typeof m.name !== "string" || !Number.isInteger(m.size) || m.size < 0 || !SHA.test(m.sha256)) return;
    if (transfers.has(m.id)) return;
    if (m.size > maxBytes) {
      app.sendData({ type: "file_reject", v: 1, id: m.id, reason: "too_large" });
      return;
    }
    const tr = { id: m.id, dir: "in", name: m.name.slice(0, 255), size: m.size, sha256: m.sha256, chunks: [], received: 0, acked: 0 };
    transfers.set(tr.id, tr);
    row(tr);
    show(tr, "receiving", "files.receiving");
    app.sendData({ type: "file_accept", v: 1, id: tr.id });
    if (tr.size === 0) finishIncoming(tr);
  }

  function onFrame(data) {
    if (!granted()) return;
    const parsed = unpackChunk(data);
    if (!parsed) return;
    const [id, offset, payload] = parsed;
    const tr = transfers.get(id);
    if (!tr || tr.dir !== "in" || tr.state !== "receiving") return;
    if (offset !== tr.received || tr.received + payload.byteLength > tr.size) {
      cancelTransfer(id, true, "files.failed");
      return;
    }
    tr.chunks.push(payload);
    tr.received += payload.byteLength;
    if (tr.received === tr.size) finishIncoming(tr);
    else if (tr.received - tr.acked >= PROGRESS_EVERY) ack(tr);
  }

  function ack(tr) {
    tr.acked = tr.received;
    app.sendData({ type: "file_progress", v: 1, id: tr.id, received: tr.received });
    progress(tr, tr.received);
  }

  async function finishIncoming(tr) {
    ack(tr);
    show(tr, "checking", "files.checking");
    const blob = new Blob(tr.chunks, { type: "application/octet-stream" });
    tr.chunks = [];
    const digest = await sha256Hex(await blob.arrayBuffer());
    if (tr.state !== "checking") return;
    const ok = digest === tr.sha256;
    app.sendData({ type: "file_done", v: 1, id: tr.id, ok });
    if (!ok) {
      show(tr, "failed", "files.damaged");
      return;
    }
    tr.blob = blob;
    tr.el.li.dataset.sha256 = digest;
    show(tr, "done", "files.received");
    const link = doc.createElement("a");
    link.className = "transfer-download";
    link.href = URL.createObjectURL(blob);
    link.download = tr.name;
    link.textContent = t("files.download");
    const attach = doc.createElement("button");
    attach.type = "button";
    attach.className = "transfer-attach";
    attach.textContent = t("files.attach");
    attach.addEventListener("click", () => attachToTicket(tr, attach));
    tr.el.li.append(link, attach);
  }

  async function attachToTicket(tr, button) {
    button.disabled = true;
    const query = new URLSearchParams({ name: tr.name, session_id: app.sessionId });
    try {
      const response = await fetch(`/api/v1/tickets/${encodeURIComponent(ticketId)}/attachments?${query}`, {
        method: "POST",
        body: tr.blob,
        credentials: "same-origin",
        headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": csrfToken(doc) },
      });
      if (!response.ok) throw new Error(String(response.status));
      tr.el.li.dataset.attached = "true";
      tr.el.text.textContent = t("files.attached", { ticket: ticketId });
    } catch {
      button.disabled = false;
      tr.el.text.textContent = t("files.attach_failed");
    }
  }

  // ---------------------------------------------------------------- either side

  function cancelTransfer(id, tell, key = "files.cancelled_by_you") {
    const tr = transfers.get(id);
    if (!tr || !["offered", "sending", "receiving", "checking"].includes(tr.state)) return;
    if (tell) app.sendData({ type: "file_cancel", v: 1, id, reason: "cancelled" });
    tr.chunks = [];
    show(tr, "cancelled", key);
    wake();
  }

  app.onDataType("file_offer", incomingOffer);
  app.onDataType("file_accept", (m) => {
    const tr = transfers.get(m.id);
    if (tr && tr.dir === "out" && tr.state === "offered") pump(tr).catch(() => cancelTransfer(tr.id, true, "files.failed"));
  });
  app.onDataType("file_reject", (m) => {
    const tr = transfers.get(m.id);
    if (!tr || tr.dir !== "out" || tr.state !== "offered") return;
    show(tr, "rejected", m.reason === "too_large" ? "files.rejected_too_large" : "files.rejected");
  });
  app.onDataType("file_progress", (m) => {
    const tr = transfers.get(m.id);
    if (!tr || tr.dir !== "out" || !Number.isInteger(m.received)) return;
    tr.acked = Math.min(m.received, tr.sent);
    progress(tr, tr.acked);
    wake();
  });
  app.onDataType("file_done", (m) => {
    const tr = transfers.get(m.id);
    if (!tr || tr.dir !== "out" || tr.state !== "sending") return;
    if (m.ok === true) show(tr, "done", "files.delivered");
    else show(tr, "failed", "files.damaged");
  });
  app.onDataType("file_cancel", (m) => {
    const tr = transfers.get(m.id);
    if (tr) cancelTransfer(tr.id, false, m.reason === "cancelled" ? "files.cancelled_by_user" : "files.failed");
  });
  app.onChannelLabel(FILE_CHANNEL_LABEL, (ch) => {
    channel = ch;
    ch.binaryType = "arraybuffer";
    ch.bufferedAmountLowThreshold = BUFFER_LOW;
    ch.addEventListener("bufferedamountlow", wake);
    ch.addEventListener("message", (event) => onFrame(event.data));
  });

  sendButton.addEventListener("click", () => {
    const file = input.files && input.files[0];
    if (!file) {
      say("files.choose");
      return;
    }
    offer(file).finally(() => {
      input.value = "";
    });
  });

  function refresh() {
    panel.dataset.granted = granted() ? "true" : "false";
    const on = usable();
    sendButton.disabled = !on;
    input.disabled = !on;
    // Said only about a transfer the technician asked for (panel.js hides it otherwise).
    const asked = app.state.requested.includes("files");
    const quiet = !status.dataset.state || status.dataset.state === "files.waiting";
    if (!granted() && asked && !app.state.consented && quiet) say("files.waiting");
    else if (!granted() && asked && app.state.consented && quiet) say("files.not_granted");
    else if (granted() && ["files.not_granted", "files.waiting"].includes(status.dataset.state)) say("");
    if (app.state.ended || app.state.aborted) {
      for (const tr of transfers.values()) cancelTransfer(tr.id, false, "files.session_ended");
    } else if (linkDown(app.state)) {
      // The connection that carried them is gone: a resumed one starts no transfer halfway.
      for (const tr of transfers.values()) cancelTransfer(tr.id, false, "files.link_lost");
    }
  }
  refresh();
  setInterval(refresh, POLL_MS);
  return { transfers };
}
