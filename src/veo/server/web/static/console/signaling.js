// The console's signaling WebSocket (/ws/console?session=<id>), JSON messages {type, v: 1, ...}.
//
// It only moves messages: the session logic lives in console.js. If the socket drops while the
// session is not over it reconnects with a growing delay; the server then sends session_state again,
// and the peer connection (which does not need the server once up) keeps running meanwhile.

const PROTOCOL_VERSION = 1;
const FIRST_DELAY_MS = 500;
/** A live session waits for this socket: the agent's resume offer reaches us only through it. */
const MAX_DELAY_MS = 2000;
/** While the link to the user's computer is lost, the socket is checked this often (`probe`) ... */
export const PING_EVERY_MS = 1000;
/** ... and given up when a ping got no answer, or a connection attempt no answer, within this. */
export const GIVE_UP_MS = 2000;
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
    this.startedAt = 0; // when the current socket was opened (Date.now())
    this.heardAt = 0; // when it last brought anything
    this.pingedAt = 0; // when the unanswered ping went out (0: none waiting)
    this.now = () => Date.now(); // tests set their own clock
  }

  /**
   * The link to the user's computer is lost, and the agent's resume offer will come through this
   * socket: make sure it is alive. A socket whose network dropped looks open until TCP resends or
   * gives up (seconds, growing while the link was down), and a connection attempt made during the
   * drop waits for TCP's next SYN: a ping unanswered, or an attempt unopened, for GIVE_UP_MS makes
   * way for a new socket at once, on which the server re-sends the offer.
   */
  probe(now = this.now()) {
    const socket = this.socket;
    if (this.stopped || !socket) return;
    if (socket.readyState === WebSocket.CONNECTING) {
      if (now - this.startedAt > GIVE_UP_MS) this.replace();
      return;
    }
    if (socket.readyState !== WebSocket.OPEN) return;
    if (this.pingedAt && this.heardAt < this.pingedAt) {
      if (now - this.pingedAt > GIVE_UP_MS) this.replace();
      return;
    }
    if (now - Math.max(this.heardAt, this.pingedAt) >= PING_EVERY_MS) {
      this.pingedAt = now;
      // not through send(): a ping is no reply-bearing step (lastSent stays the page's last word)
      socket.send(JSON.stringify({ type: "ping", v: PROTOCOL_VERSION }));
    }
  }

  /** Drop the current socket (or attempt) without waiting for its close, and open a new one now. */
  replace() {
    const old = this.socket;
    this.socket = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (old) {
      try {
        old.close();
      } catch {
        // a socket that cannot even close is gone already
      }
    }
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    this.lastSent = null; // a new socket: nothing it says replies to what the old one carried
    this.startedAt = this.now();
    this.heardAt = 0;
    this.pingedAt = 0;
    socket.addEventListener("open", () => {
      if (this.socket !== socket) return;
      this.heardAt = this.now();
      this.attempt = 0;
      if (this.handlers.onOpen) this.handlers.onOpen();
    });
    socket.addEventListener("message", (event) => {
      if (this.socket !== socket) return; // a socket given up on says nothing more
      this.heardAt = this.now();
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
