// What the technician shows the user in browser-share mode: their annotations and their pointer,
// drawn over the page's preview of what is being shared (there is no overlay on the real screen
// without the agent). Strokes and the fade come from the shared annotation board, so the user sees
// what the technician's console shows.
//
// Coordinates in `annotate` and `tech_pointer` are pixels of the announced `screen`, which for a
// browser share is the captured video's own size; the preview is letterboxed (object-fit: contain).

import { AnnotationBoard } from "../shared/annotation-draw.js";

const POINTER_HIDE_MS = 3000;

/** Where the picture of a `width`x`height` video sits in a box (object-fit: contain). */
export function containBox(boxWidth, boxHeight, width, height) {
  if (!(width > 0 && height > 0 && boxWidth > 0 && boxHeight > 0)) return null;
  const scale = Math.min(boxWidth / width, boxHeight / height);
  return { left: (boxWidth - width * scale) / 2, top: (boxHeight - height * scale) / 2, scale };
}

export class PreviewOverlay {
  /**
   * @param {HTMLVideoElement} video the preview of the shared track
   * @param {HTMLCanvasElement} canvas laid over the video (same box)
   */
  constructor(video, canvas) {
    this.video = video;
    this.canvas = canvas;
    this.board = new AnnotationBoard({ now: () => performance.now() });
    this.pointer = null; // {x, y, at}
    this.frame = 0;
  }

  /** An `annotate`, `annotate_erase` or `tech_pointer` message; false when not valid. */
  apply(message) {
    if (message.type === "tech_pointer") {
      const { x, y } = message;
      if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x > 32767 || y > 32767) return false;
      this.pointer = message.visible === false ? null : { x, y, at: performance.now() };
      this.schedule();
      return true;
    }
    const applied = this.board.apply(message);
    if (applied) this.schedule();
    return applied;
  }

  clear() {
    this.board.clear();
    this.pointer = null;
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.frame = 0;
    const canvas = this.canvas;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    const box = containBox(width, height, this.video.videoWidth, this.video.videoHeight);
    if (!box) return;
    const toCanvas = (x, y) => ({ x: box.left + x * box.scale, y: box.top + y * box.scale });
    let busy = this.board.draw(ctx, toCanvas, box.scale);
    if (this.pointer && performance.now() - this.pointer.at < POINTER_HIDE_MS) {
      const at = toCanvas(this.pointer.x, this.pointer.y);
      ctx.save();
      ctx.fillStyle = "#ff0040";
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(at.x, at.y, 8, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
      ctx.restore();
      busy = true;
    }
    if (busy) this.schedule();
  }
}
