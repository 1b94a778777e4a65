// Annotation strokes of the veo protocol (`annotate`, `annotate_erase`) drawn on a 2D canvas, with
// the same fade the agent's overlay uses: a finished stroke stays HOLD_MS, then fades out over
// FADE_MS; laser strokes fade much sooner. Shared by the technician console (over the remote video)
// and by the browser-share join page (over the user's own preview), so both sides see the same thing.
//
// API (plain ES module, no dependencies):
//
//   import { AnnotationBoard, drawStroke, TOOLS } from "/static/shared/annotation-draw.js";
//
//   const board = new AnnotationBoard({ now: () => performance.now() });   // `now` optional
//   board.apply(message)        // an `annotate` or `annotate_erase` message (validated; bad ones
//                               // return false and change nothing); returns true when applied
//   board.erase(id) / board.clear()
//   board.hitTest(x, y, slop)   // id of the newest stroke passing within `slop` px of (x, y) in
//                               // stroke (remote screen) coordinates, or null
//   board.draw(ctx, toCanvas, scale)
//                               // clears nothing; draws every live stroke with its fade alpha.
//                               // toCanvas(x, y) -> {x, y} maps stroke coordinates to canvas pixels,
//                               // scale is canvas px per stroke px (for line widths). Returns true
//                               // while something is still visible or fading (keep animating).
//   board.size                  // number of live strokes
//   board.opacity(stroke)       // 0..1 at the current time
//
//   drawStroke(ctx, stroke, toCanvas, scale, alpha)   // one stroke {tool, points, color, width}
//
// Strokes are bounded (MAX_STROKES live, MAX_POINTS per stroke as the protocol says), so a flood
// of messages cannot grow memory without limit. A stroke that is never finished (`done` lost)
// counts as finished STALE_MS after its last update.

export const TOOLS = ["arrow", "rect", "free", "laser"];
export const HOLD_MS = 4000;
export const FADE_MS = 1000;
export const LASER_HOLD_MS = 250;
export const LASER_FADE_MS = 750;
export const STALE_MS = 10000;
export const MAX_STROKES = 64;
export const MAX_POINTS = 2000;

const ID = /^[A-Za-z0-9_-]{1,40}$/;
const COLOR = /^#[0-9a-fA-F]{6}$/;

/** Arrow head size for a line width, the same on the agent (overlay/geometry.py). */
export function arrowHead(width) {
  return { length: 4 * width + 10, halfAngle: (28 * Math.PI) / 180 };
}

function validPoints(points) {
  if (!Array.isArray(points) || points.length < 1 || points.length > MAX_POINTS) return null;
  const out = [];
  for (const p of points) {
    if (!Array.isArray(p) || p.length !== 2) return null;
    const [x, y] = p;
    if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x > 32767 || y > 32767) return null;
    out.push([x, y]);
  }
  return out;
}

/**
 * Draw one stroke at `alpha` (0..1).
 * @param {CanvasRenderingContext2D} ctx
 * @param {{tool:string, points:number[][], color:string, width:number}} stroke
 * @param {(x:number, y:number) => {x:number, y:number}} toCanvas
 * @param {number} scale canvas pixels per stroke pixel
 * @param {number} alpha
 */
export function drawStroke(ctx, stroke, toCanvas, scale, alpha) {
  if (alpha <= 0 || stroke.points.length === 0) return;
  const pts = stroke.points.map(([x, y]) => toCanvas(x, y));
  const width = Math.max(1, stroke.width * scale);
  ctx.save();
  ctx.globalAlpha = Math.min(1, alpha);
  ctx.strokeStyle = stroke.color;
  ctx.fillStyle = stroke.color;
  ctx.lineWidth = width;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  const first = pts[0];
  const last = pts[pts.length - 1];
  if (stroke.tool === "rect") {
    ctx.strokeRect(Math.min(first.x, last.x), Math.min(first.y, last.y), Math.abs(last.x - first.x), Math.abs(last.y - first.y));
  } else if (stroke.tool === "arrow") {
    ctx.beginPath();
    ctx.moveTo(first.x, first.y);
    ctx.lineTo(last.x, last.y);
    ctx.stroke();
    const dx = last.x - first.x;
    const dy = last.y - first.y;
    if (dx !== 0 || dy !== 0) {
      const head = arrowHead(stroke.width);
      const len = head.length * scale;
      const angle = Math.atan2(dy, dx);
      ctx.beginPath();
      ctx.moveTo(last.x, last.y);
      ctx.lineTo(last.x - len * Math.cos(angle - head.halfAngle), last.y - len * Math.sin(angle - head.halfAngle));
      ctx.lineTo(last.x - len * Math.cos(angle + head.halfAngle), last.y - len * Math.sin(angle + head.halfAngle));
      ctx.closePath();
      ctx.fill();
    }
  } else {
    if (stroke.tool === "laser") {
      ctx.shadowColor = stroke.color;
      ctx.shadowBlur = 3 * width;
    }
    ctx.beginPath();
    ctx.moveTo(first.x, first.y);
    for (const p of pts.slice(1)) ctx.lineTo(p.x, p.y);
    if (pts.length === 1) ctx.lineTo(first.x + 0.01, first.y);
    ctx.stroke();
  }
  ctx.restore();
}

function distanceToSegment(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** The segments a stroke is made of (for hit tests). */
function segments(stroke) {
  const p = stroke.points;
  const a = p[0];
  const b = p[p.length - 1];
  if (stroke.tool === "rect") {
    const c = [a[0], b[1]];
    const d = [b[0], a[1]];
    return [[a, d], [d, b], [b, c], [c, a]];
  }
  if (stroke.tool === "arrow") return [[a, b]];
  if (p.length === 1) return [[a, a]];
  const out = [];
  for (let i = 1; i < p.length; i += 1) out.push([p[i - 1], p[i]]);
  return out;
}

/** The live strokes of one view and their fade. */
export class AnnotationBoard {
  constructor({ now = () => performance.now() } = {}) {
    this.now = now;
    /** id -> {id, tool, points, color, width, done, updatedAt, doneAt} in insertion order. */
    this.strokes = new Map();
  }

  get size() {
    return this.strokes.size;
  }

  /** Apply one protocol message; false (and nothing changed) when it is not a valid one. */
  apply(m) {
    if (!m || typeof m !== "object") return false;
    if (m.type === "annotate_erase") {
      if (typeof m.id !== "string" || (m.id !== "" && !ID.test(m.id))) return false;
      if (m.id === "") this.clear();
      else this.erase(m.id);
      return true;
    }
    if (m.type !== "annotate") return false;
    const points = validPoints(m.points);
    const color = m.color === undefined ? "#ff0040" : m.color;
    const width = m.width === undefined ? 4 : m.width;
    if (typeof m.id !== "string" || !ID.test(m.id) || !TOOLS.includes(m.tool) || !points) return false;
    if (typeof color !== "string" || !COLOR.test(color) || !Number.isInteger(width) || width < 1 || width > 32) return false;
    const now = this.now();
    const old = this.strokes.get(m.id);
    if (old && old.done) return false; // a finished stroke does not come back to life
    this.strokes.delete(m.id);
    this.strokes.set(m.id, { id: m.id, tool: m.tool, points, color, width, done: m.done === true, updatedAt: now, doneAt: m.done === true ? now : null });
    while (this.strokes.size > MAX_STROKES) this.strokes.delete(this.strokes.keys().next().value);
    return true;
  }

  erase(id) {
    this.strokes.delete(id);
  }

  clear() {
    this.strokes.clear();
  }

  /** 0..1: full until the hold is over, then linearly down to 0. */
  opacity(stroke, now = this.now()) {
    const laser = stroke.tool === "laser";
    const hold = laser ? LASER_HOLD_MS : HOLD_MS;
    const fade = laser ? LASER_FADE_MS : FADE_MS;
    const since = stroke.doneAt !== null ? stroke.doneAt : stroke.updatedAt + STALE_MS;
    const t = now - since - hold;
    if (t <= 0) return 1;
    return Math.max(0, 1 - t / fade);
  }

  /** Drop the strokes that have faded out. */
  prune(now = this.now()) {
    for (const [id, stroke] of this.strokes) if (this.opacity(stroke, now) <= 0) this.strokes.delete(id);
  }

  hitTest(x, y, slop = 6) {
    let found = null;
    for (const stroke of this.strokes.values()) {
      const reach = slop + stroke.width / 2;
      for (const [a, b] of segments(stroke)) {
        if (distanceToSegment(x, y, a[0], a[1], b[0], b[1]) <= reach) {
          found = stroke.id;
          break;
        }
      }
    }
    return found;
  }

  draw(ctx, toCanvas, scale = 1) {
    const now = this.now();
    this.prune(now);
    for (const stroke of this.strokes.values()) drawStroke(ctx, stroke, toCanvas, scale, this.opacity(stroke, now));
    return this.strokes.size > 0;
  }
}
