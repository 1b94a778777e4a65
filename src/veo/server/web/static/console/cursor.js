// The remote pointer, drawn here over the video from the agent's `cursor` / `cursor_shape` messages.
//
// The agent leaves the pointer out of the video and sends its position and image on the data
// channel instead: a few bytes that arrive long before any video frame would, so pointing feels
// instant. Positions are pixels of the announced `screen` (the shown monitor); they are mapped
// through the same letterbox and scale as the input (display.js), in the other direction. The
// overlay sits in the video's own parent (the zoom's stage), so at 1:1 it scrolls with the picture.

const MAX_SHAPES = 32;
const MAX_SIDE = 128;

/**
 * Where remote pixel (x, y) lies inside the video element's content box (its own coordinates).
 *
 * @param {{x:number, y:number}} point remote screen pixels
 * @param {{width:number, height:number}} box the video element's content box size
 * @param {{width:number, height:number}} video intrinsic size of the decoded video
 * @param {{width:number, height:number}} screen the agent's announced screen size
 * @returns {{left:number, top:number, scale:number} | null} null before any frame or outside the picture
 */
export function remoteToBox(point, box, video, screen) {
  if (!(video.width > 0 && video.height > 0 && box.width > 0 && box.height > 0)) return null;
  if (!(screen.width > 0 && screen.height > 0)) return null;
  if (point.x < 0 || point.y < 0 || point.x >= screen.width || point.y >= screen.height) return null;
  const scale = Math.min(box.width / video.width, box.height / video.height);
  const shownWidth = video.width * scale;
  const shownHeight = video.height * scale;
  return {
    left: (box.width - shownWidth) / 2 + ((point.x + 0.5) / screen.width) * shownWidth,
    top: (box.height - shownHeight) / 2 + ((point.y + 0.5) / screen.height) * shownHeight,
    scale: shownWidth / screen.width,
  };
}

/** A `cursor_shape` message as a canvas, or null when it is malformed. */
export function decodeShape(doc, message) {
  const { width, height, hot_x: hotX, hot_y: hotY, rgba } = message;
  const sideOk = (n) => Number.isInteger(n) && n >= 1 && n <= MAX_SIDE;
  if (!sideOk(width) || !sideOk(height) || typeof rgba !== "string") return null;
  if (!Number.isInteger(hotX) || !Number.isInteger(hotY)) return null;
  let bytes;
  try {
    bytes = Uint8ClampedArray.from(atob(rgba), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
  if (bytes.length !== width * height * 4) return null;
  const canvas = doc.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").putImageData(new ImageData(bytes, width, height), 0, 0);
  return { canvas, hotX: Math.min(hotX, width - 1), hotY: Math.min(hotY, height - 1) };
}

class RemoteCursor {
  constructor(app, doc) {
    this.app = app;
    this.video = app.video;
    this.shapes = new Map();
    this.last = null;
    this.canvas = doc.createElement("canvas");
    this.canvas.className = "remote-cursor";
    this.canvas.hidden = true;
    this.canvas.setAttribute("aria-hidden", "true");
    this.video.parentElement.appendChild(this.canvas);
    this.doc = doc;
    app.onDataType("cursor_shape", (m) => this.onShape(m));
    app.onDataType("cursor", (m) => this.onCursor(m));
    const again = () => this.place();
    this.video.addEventListener("resize", again);
    doc.defaultView.addEventListener("resize", again);
    // The element's own box changes too without a window resize: the zoom (zoom.js), the tools panel.
    if (typeof doc.defaultView.ResizeObserver === "function") new doc.defaultView.ResizeObserver(again).observe(this.video);
  }

  onShape(message) {
    const shape = decodeShape(this.doc, message);
    if (!shape || !Number.isInteger(message.id)) return;
    if (this.shapes.size >= MAX_SHAPES && !this.shapes.has(message.id)) {
      this.shapes.delete(this.shapes.keys().next().value);
    }
    this.shapes.set(message.id, shape);
    this.drawn = null;
    this.place();
  }

  onCursor(message) {
    if (!Number.isInteger(message.x) || !Number.isInteger(message.y)) return;
    this.last = message;
    this.place();
  }

  hide() {
    this.canvas.hidden = true;
  }

  place() {
    const m = this.last;
    const state = this.app.state;
    const shape = m && this.shapes.get(m.shape);
    if (!m || !shape || m.visible === false || state.ended || !this.video.srcObject) {
      this.hide();
      return;
    }
    const video = { width: this.video.videoWidth, height: this.video.videoHeight };
    const screen = state.screen || video;
    const box = { width: this.video.clientWidth, height: this.video.clientHeight };
    const spot = remoteToBox(m, box, video, screen);
    if (!spot) {
      this.hide();
      return;
    }
    if (this.drawn !== shape) {
      this.canvas.width = shape.canvas.width;
      this.canvas.height = shape.canvas.height;
      const ctx = this.canvas.getContext("2d");
      ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
      ctx.drawImage(shape.canvas, 0, 0);
      this.canvas.dataset.hotX = String(shape.hotX); // where the pointer "is" inside the image
      this.canvas.dataset.hotY = String(shape.hotY);
      this.drawn = shape;
    }
    const left = this.video.offsetLeft + this.video.clientLeft + spot.left - shape.hotX;
    const top = this.video.offsetTop + this.video.clientTop + spot.top - shape.hotY;
    this.canvas.style.transform = `translate(${Math.round(left)}px, ${Math.round(top)}px)`;
    this.canvas.hidden = false;
  }
}

/** Feature entry point (console.js FEATURES). */
export function install(app) {
  if (!app.video || !app.video.parentElement) return;
  app.remoteCursor = new RemoteCursor(app, document);
}
