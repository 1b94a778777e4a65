// Keyboard input on the focused remote video: physical keys, typed text (paste, IME) and release.
//
// Keys are sent as the DOM names them (`key` "a"/"Enter", `code` "KeyA"); the agent maps them to its
// own layout. While control is active the browser's default action is prevented so Tab, Backspace
// or F5 act on the remote computer and not on the console, except the paste shortcut: the browser must keep it to deliver the
// local clipboard, which then goes over as `text`.

const MAX_KEY = 32;
const MAX_TEXT = 2000;

/** Whether an event is the local paste shortcut (Ctrl+V, or Cmd+V on a Mac; Shift+Insert). */
export function isPasteShortcut(event) {
  const v = event.code === "KeyV" || event.key === "v" || event.key === "V";
  if (v && (event.ctrlKey || event.metaKey) && !event.altKey) return true;
  return event.key === "Insert" && event.shiftKey;
}

/** Split text into pieces the protocol accepts (at most 2000 characters, no split surrogate pairs). */
export function textChunks(text) {
  const chars = Array.from(String(text));
  const chunks = [];
  for (let i = 0; i < chars.length; i += MAX_TEXT) chunks.push(chars.slice(i, i + MAX_TEXT).join(""));
  return chunks;
}

export class KeyboardInput {
  /**
   * @param {HTMLElement} element the focusable video element
   * @param {(message: object) => boolean} send already gated on the agent's control state
   */
  constructor(element, send) {
    this.element = element;
    this.send = send;
    this.handlers = {
      keydown: (e) => this.onKey(e, true),
      keyup: (e) => this.onKey(e, false),
      blur: () => this.releaseAll(),
      compositionend: (e) => this.onText(e.data),
    };
    for (const [name, handler] of Object.entries(this.handlers)) element.addEventListener(name, handler);
    // A paste on a non-editable element is dispatched to the document, not to the element.
    this.pasteHandler = (e) => {
      if (element.ownerDocument.activeElement === element) this.onPaste(e);
    };
    element.ownerDocument.addEventListener("paste", this.pasteHandler);
  }

  onKey(event, down) {
    if (event.isComposing || event.key === "Process") return;
    if (isPasteShortcut(event)) return; // the paste event sends the text
    const key = event.key && event.key.length <= MAX_KEY ? event.key : "Unidentified";
    const code = (event.code || "").slice(0, MAX_KEY);
    // Only a key that went to the remote computer is kept from the browser: without control,
    // Tab must still move the focus off the video.
    if (this.send({ type: "key", v: 1, key, code, down })) event.preventDefault();
  }

  onPaste(event) {
    const data = event.clipboardData ? event.clipboardData.getData("text/plain") : "";
    if (this.onText(data)) event.preventDefault();
  }

  /** Send text in protocol-sized pieces; true if it went out. */
  onText(text) {
    if (!text) return false;
    let sent = false;
    for (const chunk of textChunks(text)) sent = this.send({ type: "text", v: 1, text: chunk }) || sent;
    return sent;
  }

  /** Focus left the video: the remote must not keep a key (or button) held down. */
  releaseAll() {
    this.send({ type: "release_all", v: 1 });
  }

  destroy() {
    for (const [name, handler] of Object.entries(this.handlers)) {
      this.element.removeEventListener(name, handler);
    }
    this.element.ownerDocument.removeEventListener("paste", this.pasteHandler);
  }
}
