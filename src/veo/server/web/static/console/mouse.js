// Pointer input on the remote video: moves, buttons and wheel notches as data-channel messages.
//
// Moves are coalesced to at most one per animation frame: the agent injects each one, and a 1 kHz
// mouse would otherwise flood the channel and lag the remote cursor behind the hand.

const BUTTONS = { 0: "left", 1: "middle", 2: "right" };
const PIXELS_PER_NOTCH = 100;
const LINES_PER_NOTCH = 3;
const MAX_NOTCHES = 10;

/**
 * Turn one wheel event into whole notches, carrying fractions (touchpads send many small deltas).
 * A single mouse-wheel click (|delta| >= half a notch) always gives at least one notch.
 *
 * @param {number} carried fraction of a notch left over from earlier events
 * @param {number} delta deltaX or deltaY of the event
 * @param {number} mode WheelEvent.deltaMode (0 pixel, 1 line, 2 page)
 * @returns {{notches:number, carried:number}}
 */
export function wheelNotches(carried, delta, mode) {
  const perNotch = mode === 2 ? 1 : mode === 1 ? LINES_PER_NOTCH : PIXELS_PER_NOTCH;
  const units = delta / perNotch;
  let total = carried + units;
  let notches = Math.trunc(total);
  if (notches === 0 && Math.abs(units) >= 0.5) notches = Math.sign(units);
  total -= notches;
  if (Math.sign(total) !== Math.sign(units)) total = 0;
  notches = Math.max(-MAX_NOTCHES, Math.min(MAX_NOTCHES, notches));
  return { notches, carried: total };
}

/** Listens on the video element; `send(message)` is already gated on the agent's control state. */
export class MouseInput {
  /**
   * @param {HTMLElement} element the video element
   * @param {import("./display.js").RemoteDisplay} display
   * @param {(message: object) => boolean} send
   * @param {() => boolean} canSend whether input would be sent now (control active, channel open)
   */
  constructor(element, display, send, canSend = () => true) {
    this.element = element;
    this.display = display;
    this.send = send;
    this.canSend = canSend;
    this.pendingMove = null;
    this.frameRequested = false;
    this.buttonsDown = new Set();
    this.wheelCarry = { x: 0, y: 0 };
    this.handlers = {
      pointermove: (e) => this.onMove(e),
      pointerdown: (e) => this.onButton(e, true),
      pointerup: (e) => this.onButton(e, false),
      pointercancel: (e) => this.onButton(e, false),
      wheel: (e) => this.onWheel(e),
      contextmenu: (e) => e.preventDefault(),
    };
    for (const [name, handler] of Object.entries(this.handlers)) {
      element.addEventListener(name, handler, { passive: name !== "wheel" && name !== "contextmenu" });
    }
  }

  onMove(event) {
    // While a button is held (a drag, with pointer capture) the pointer may leave the picture:
    // follow it along the edge instead of freezing the drag at the last point inside.
    const point = this.display.toRemote(event, this.buttonsDown.size > 0);
    if (!point) return;
    this.pendingMove = point;
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      const move = this.pendingMove;
      this.pendingMove = null;
      if (move) this.send({ type: "pointer_move", v: 1, x: move.x, y: move.y });
    });
  }

  onButton(event, down) {
    const button = BUTTONS[event.button];
    if (!button) return;
    // A release is sent even outside the picture, so no button stays stuck down on the remote.
    const wasDown = this.buttonsDown.has(button);
    const point = this.display.toRemote(event, !down && wasDown);
    if (!point) return;
    if (down) {
      this.element.focus({ preventScroll: true });
      if (event.pointerId !== undefined && this.element.setPointerCapture) {
        try {
          this.element.setPointerCapture(event.pointerId);
        } catch {
          // Capture is a convenience (drags leaving the video); input works without it.
        }
      }
      this.buttonsDown.add(button);
    } else {
      if (!wasDown) return;
      this.buttonsDown.delete(button);
    }
    this.flushMove();
    this.send({ type: "pointer_button", v: 1, x: point.x, y: point.y, button, down });
  }

  onWheel(event) {
    // Without control the wheel scrolls the console page as usual; with it, only the remote.
    if (!this.canSend()) return;
    event.preventDefault();
    const point = this.display.toRemote(event);
    if (!point) return;
    const y = wheelNotches(this.wheelCarry.y, event.deltaY, event.deltaMode);
    const x = wheelNotches(this.wheelCarry.x, event.deltaX, event.deltaMode);
    this.wheelCarry = { x: x.carried, y: y.carried };
    if (x.notches === 0 && y.notches === 0) return;
    this.send({ type: "wheel", v: 1, x: point.x, y: point.y, dx: x.notches, dy: y.notches });
  }

  /** Send a pending move first, so a click lands where the pointer is, not where it was. */
  flushMove() {
    const move = this.pendingMove;
    this.pendingMove = null;
    if (move) this.send({ type: "pointer_move", v: 1, x: move.x, y: move.y });
  }

  /** Forget held buttons (after release_all, or when control stops). */
  reset() {
    this.buttonsDown.clear();
    this.pendingMove = null;
    this.wheelCarry = { x: 0, y: 0 };
  }

  destroy() {
    for (const [name, handler] of Object.entries(this.handlers)) {
      this.element.removeEventListener(name, handler);
    }
  }
}
