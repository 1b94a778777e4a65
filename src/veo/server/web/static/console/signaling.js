// The console's signaling WebSocket (/ws/console?session=<id>), JSON messages {type, v: 1, ...}.
//
// It only moves messages: the session logic lives in console.js. If the socket drops while the
// session is not over it reconnects with a growing delay; the server then sends session_state again,
// and the peer connection (which does not need the server once up) keeps running meanwhile.

const PROTOCOL_VERSION = 1;
const FIRST_DELAY_MS = 500;
/** A live session waits for this socket: the agent's resume offer reaches us only through it. */
const MAX_DELAY_MS = 2000;
/** Close codes after which retrying cannot help (sessions/sockets.py): signed out, forbidden, no session. */
export const FINAL_CLOSE_CODES = new Set([1008, 4401, 4403, 4404]);

/** The ws: or wss: URL for a path, on the page's own host (the server serves both). */
export function socketUrl(path, loc = globalThis.location) {
  if (/^wss?:\/\//.test(path)) return path;
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}${path.startsWith("/") ? "" : "/"}${path}`;
}

/**
 * Whether the server's `error` says another console of this session took the exchange this page
 * answered. Every open console of a session gets the agent's offer (a duplicated tab too) and the
 * first answer wins: the hub answers a later one `out_of_order`, and that console's `resume_refused`
 * of the winner's reveal the same way. It answers a socket's messages in order, so while the last
 * thing this page sent was its answer (or its refusal of the reveal), an `out_of_order` replies to it.
 */
export function answerNotTaken(message, lastSent) {
  if (!message || message.type !== "error" || message.code !== "out_of_order") return false;
  return lastSent === "answer" || lastSent === "resume_refused";
}

/** Delay before reconnect attempt `attempt` (0-based): 0.5 s, 1 s, then every 2 s. */
export function backoffDelay(attempt) {
  return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(attempt, 10));
}

export class Signaling {
  /**
   * @param {string} path e.g. "/ws/console?session=<id>"
   * @param {{onMessage:(m:object)=>void, onOpen?:()=>void,
 *          onClose?:(willRetry:boolean, code:number)=>void}} handlers
   */
  constructor(path, handlers) {
    this.url = socketUrl(path);
    this.handlers = handlers;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.lastSent = null; // the type of the last message sent on the current socket
  }

  connect() {
    if (this.stopped) return;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    this.lastSent = null; // a new socket: nothing it says replies to what the old one carried
    socket.addEventListener("open", () => {
      this.attempt = 0;
      if (this.handlers.onOpen) this.handlers.onOpen();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // the server only sends JSON; anything else is not ours to act on
      }
      if (message && typeof message === "object" && typeof message.type === "string") {
        this.handlers.onMessage(message);
      }
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (FINAL_CLOSE_CODES.has(event.code)) this.stopped = true;
      if (this.handlers.onClose) this.handlers.onClose(!this.stopped, event.code);
      if (!this.stopped) {
        this.timer = setTimeout(() => this.connect(), backoffDelay(this.attempt));
        this.attempt += 1;
      }
    });
  }

  /** Send one message; false when the socket is not open (the caller decides what that means). */
  send(type, fields = {}) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify({ ...fields, type, v: PROTOCOL_VERSION }));
    this.lastSent = type;
    return true;
  }

  /** The session is over: close and never reconnect. */
  stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close(1000);
    }
  }
}
