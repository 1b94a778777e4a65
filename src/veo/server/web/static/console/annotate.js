// Annotation on the remote view: the technician draws arrows, rectangles, free lines and a laser
// trail over the video; the agent shows them on the user's real screen in a click-through overlay
// (agent/overlay), both sides fading them the same way (shared/annotation-draw.js).
//
// Tools: "pointer" (the default: the mouse is the remote mouse when control is active), "arrow",
// "rect", "free", "laser" and "eraser" (click a stroke; "Clear all" removes every stroke).
// While a drawing tool is selected, a canvas over the video takes the mouse, so no input reaches
// the user's computer: annotating shows, it never acts. Coordinates are remote screen pixels
// (app.display), like input. Strokes go out as `annotate` updates at most ~30 per second while
// drawn and once more with `done` at mouse-up; the technician's pointer goes out as `tech_pointer`
// (throttled) while it moves over the view, in view-only sessions too. Only the *view* grant is
// needed; the agent's policy has the last word.

import { AnnotationBoard, MAX_POINTS } from "../shared/annotation-draw.js";

const TOOLS = ["pointer", "arrow", "rect", "free", "laser", "eraser"];
const DRAWING = ["arrow", "rect", "free", "laser"];
const SEND_INTERVAL_MS = 33;
const POINTER_INTERVAL_MS = 50;
const WIDTH = 5;
const ERASER_SLOP_CSS_PX = 8;
const LASER_PIECE_MS = 300;

let counter = 0;

/** A stroke id unique enough within a session (the protocol allows [A-Za-z0-9_-]{1,40}). */
export function newStrokeId() {
  counter += 1;
  const random = Math.floor(Math.random() * 0x100000).toString(36);
  return `s${Date.now().toString(36)}${random}${counter.toString(36)}`.slice(0, 40);
}

/**
 * Where remote screen pixel (x, y) is drawn, in client coordinates (inverse of display.mapToRemote).
 * @returns {{x:number, y:number, scale:number} | null} scale: client px per remote px
 */
export function remoteToClient(x, y, box, video, screen) {
  if (!(video.width > 0 && video.height > 0 && box.width > 0 && box.height > 0)) return null;
  if (!(screen.width > 0 && screen.height > 0)) return null;
  const fit = Math.min(box.width / video.width, box.height / video.height);
  const shownWidth = video.width * fit;
  const shownHeight = video.height * fit;
  const left = box.left + (box.width - shownWidth) / 2;
  const top = box.top + (box.height - shownHeight) / 2;
  return {
    x: left + ((x + 0.5) / screen.width) * shownWidth,
    y: top + ((y + 0.5) / screen.height) * shownHeight,
    scale: shownWidth / screen.width,
  };
}

class Annotator {
  constructor(app, doc) {
    this.app = app;
    this.video = app.video;
    this.canvas = doc.getElementById("annotation-canvas");
    this.toolbar = doc.getElementById("annotate-toolbar");
    this.colorInput = doc.getElementById("annotate-color");
    this.board = new AnnotationBoard();
    this.tool = "pointer";
    this.current = null; // the stroke being drawn: {id, tool, points, color, width}
    this.sendTimer = null;
    this.lastPointerSent = 0;
    this.pendingPointer = null;
    this.pointerTimer = null;
    this.frame = null;
    this.lastPointer = null; // the mouse's last client position over the view, while it is there

    for (const tool of TOOLS) {
      const button = doc.getElementById(`annotate-tool-${tool}`);
      if (button) button.addEventListener("click", () => this.select(tool));
    }
    const clear = doc.getElementById("annotate-clear");
    if (clear) clear.addEventListener("click", () => this.clearAll());

    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => this.onDown(e));
    c.addEventListener("pointermove", (e) => this.onMove(e));
    c.addEventListener("pointerup", (e) => this.onUp(e));
    c.addEventListener("pointercancel", (e) => this.onUp(e));
    c.addEventListener("pointerleave", () => this.pointerGone());
    c.addEventListener("contextmenu", (e) => e.preventDefault());
    // In pointer mode the input layer over the video has the mouse (mouse.js); the technician's
    // pointer is still shown to the user when it does not already move the real cursor.
    const layer = this.app.inputLayer || this.video;
    layer.addEventListener("pointermove", (e) => {
      this.lastPointer = { clientX: e.clientX, clientY: e.clientY };
      if (!this.app.inputOpen()) this.trackPointer(e);
    });
    layer.addEventListener("pointerleave", () => {
      this.lastPointer = null;
      this.pointerGone();
    });
    // At 1:1 the wheel scrolls the picture under a still mouse (zoom.js), and no pointer event
    // says so: the pointer the user sees follows the spot it is now over.
    const scroller = doc.getElementById("video-scroll");
    if (scroller) {
      scroller.addEventListener("scroll", () => {
        if (this.lastPointer && !this.app.inputOpen()) this.trackPointer(this.lastPointer);
      });
    }
    window.addEventListener("resize", () => this.redraw());
    // The canvas shares the zoom's stage with the video (zoom.js): at 1:1 it is the picture's size
    // and scrolls with it, so strokes stay on their spot; a zoom switch resizes it.
    if (typeof ResizeObserver === "function") new ResizeObserver(() => this.redraw()).observe(this.canvas);
    this.select("pointer");
  }

  color() {
    const value = this.colorInput ? this.colorInput.value : "";
    return /^#[0-9a-fA-F]{6}$/.test(value) ? value.toLowerCase() : "#ff0040";
  }

  select(tool) {
    if (!TOOLS.includes(tool)) return;
    this.finishStroke();
    this.tool = tool;
    this.canvas.dataset.tool = tool;
    this.canvas.classList.toggle("active", tool !== "pointer");
    for (const name of TOOLS) {
      const button = document.getElementById(`annotate-tool-${name}`);
      if (button) button.setAttribute("aria-pressed", String(name === tool));
    }
  }

  // ------------------------------------------------------------------ drawing

  onDown(event) {
    if (event.button !== 0 || this.tool === "pointer") return;
    const p = this.app.display.toRemote(event);
    if (!p) return;
    event.preventDefault();
    if (this.tool === "eraser") {
      const slop = ERASER_SLOP_CSS_PX / Math.max(0.01, this.clientScale());
      const id = this.board.hitTest(p.x, p.y, slop);
      if (id) {
        this.board.erase(id);
        this.app.sendData({ type: "annotate_erase", v: 1, id });
        this.redraw();
      }
      return;
    }
    this.canvas.setPointerCapture(event.pointerId);
    const at = performance.now();
    this.current = { id: newStrokeId(), tool: this.tool, points: [[p.x, p.y]], color: this.color(), width: WIDTH, at };
    this.update(false);
  }

  onMove(event) {
    this.trackPointer(event);
    if (!this.current) return;
    const p = this.app.display.toRemote(event, true);
    if (!p) return;
    const points = this.current.points;
    const last = points[points.length - 1];
    if (last[0] === p.x && last[1] === p.y) return;
    if (this.current.tool === "arrow" || this.current.tool === "rect") {
      this.current.points = [points[0], [p.x, p.y]];
    } else if (points.length < MAX_POINTS && !this.laserPieceDone()) {
      points.push([p.x, p.y]);
    } else {
      // A stroke holds at most MAX_POINTS (the protocol's bound), and a laser trail is cut into
      // short pieces so that its tail fades while the technician is still pointing: finish this
      // piece and go on seamlessly from its last point.
      this.update(true);
      this.current = { ...this.current, id: newStrokeId(), points: [last, [p.x, p.y]], at: performance.now() };
    }
    this.update(false);
  }

  laserPieceDone() {
    return this.current.tool === "laser" && performance.now() - this.current.at > LASER_PIECE_MS;
  }

  onUp(event) {
    if (!this.current) return;
    const p = this.app.display.toRemote(event, true);
    if (p && this.current.points.length < MAX_POINTS) {
      const last = this.current.points[this.current.points.length - 1];
      if (last[0] !== p.x || last[1] !== p.y) {
        if (this.current.tool === "arrow" || this.current.tool === "rect") this.current.points[1] = [p.x, p.y];
        else this.current.points.push([p.x, p.y]);
      }
    }
    this.finishStroke();
  }

  finishStroke() {
    if (!this.current) return;
    this.update(true);
    this.current = null;
  }

  message(done) {
    const s = this.current;
    const points = s.points.map((p) => [p[0], p[1]]);
    return { type: "annotate", v: 1, id: s.id, tool: s.tool, points, color: s.color, width: s.width, done };
  }

  /** Show the stroke here at once; send it now if done, else at most every SEND_INTERVAL_MS. */
  update(done) {
    const message = this.message(done);
    this.board.apply(message);
    this.redraw();
    if (done) {
      clearTimeout(this.sendTimer);
      this.sendTimer = null;
      this.app.sendData(message);
      return;
    }
    if (this.sendTimer) return;
    this.app.sendData(message);
    this.sendTimer = setTimeout(() => {
      this.sendTimer = null;
      if (this.current) this.app.sendData(this.message(false));
    }, SEND_INTERVAL_MS);
  }

  clearAll() {
    this.finishStroke();
    this.board.clear();
    this.app.sendData({ type: "annotate_erase", v: 1, id: "" });
    this.redraw();
  }

  // ------------------------------------------------------------------ the technician's pointer

  trackPointer(event) {
    const p = this.app.display.toRemote(event);
    if (!p) return;
    this.pendingPointer = p;
    if (this.pointerTimer) return;
    const wait = Math.max(0, this.lastPointerSent + POINTER_INTERVAL_MS - performance.now());
    this.pointerTimer = setTimeout(() => {
      this.pointerTimer = null;
      const q = this.pendingPointer;
      this.pendingPointer = null;
      if (!q) return;
      this.lastPointerSent = performance.now();
      this.app.sendData({ type: "tech_pointer", v: 1, x: q.x, y: q.y, visible: true });
    }, wait);
  }

  pointerGone() {
    this.pendingPointer = null;
    if (this.lastPointerSent > 0) {
      this.lastPointerSent = 0;
      this.app.sendData({ type: "tech_pointer", v: 1, x: 0, y: 0, visible: false });
    }
  }

  // ------------------------------------------------------------------ local rendering

  videoBox() {
    const rect = this.video.getBoundingClientRect();
    return { left: rect.left, top: rect.top, width: rect.width, height: rect.height };
  }

  screenSize() {
    const video = { width: this.video.videoWidth, height: this.video.videoHeight };
    return { video, screen: this.app.state.screen || video };
  }

  clientScale() {
    const { video, screen } = this.screenSize();
    const at = remoteToClient(0, 0, this.videoBox(), video, screen);
    return at ? at.scale : 1;
  }

  redraw() {
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      if (this.draw()) this.redraw();
    });
  }

  /** Draw every live stroke; true while something is still on (keep animating the fade). */
  draw() {
    // Another monitor is shown: the strokes were in the old one's coordinates (the agent erases its own).
    const shown = this.app.state.screen;
    const key = shown ? `${shown.x || 0},${shown.y || 0},${shown.width}x${shown.height}` : "";
    if (this.screenKey !== undefined && key !== this.screenKey) this.board.clear();
    this.screenKey = key;
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const rect = c.getBoundingClientRect();
    const width = Math.round(rect.width * ratio);
    const height = Math.round(rect.height * ratio);
    if (c.width !== width || c.height !== height) {
      c.width = width;
      c.height = height;
    }
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, c.width, c.height);
    const box = this.videoBox();
    const { video, screen } = this.screenSize();
    const origin = remoteToClient(0, 0, box, video, screen);
    if (!origin) return this.board.size > 0;
    const toCanvas = (x, y) => {
      const p = remoteToClient(x, y, box, video, screen);
      return { x: (p.x - rect.left) * ratio, y: (p.y - rect.top) * ratio };
    };
    return this.board.draw(ctx, toCanvas, origin.scale * ratio);
  }
}

/** Feature entry point (console.js FEATURES). */
export function install(app) {
  if (!document.getElementById("annotation-canvas")) return;
  const annotator = new Annotator(app, document);
  app.annotator = annotator;
}
