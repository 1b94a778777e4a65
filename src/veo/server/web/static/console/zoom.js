// Zoom of the remote screen: "Fit" (the whole screen scaled into the video area, letterboxed) or
// "1:1" (one pixel of the user's screen per device pixel of the technician's; the area scrolls).
//
// The choice is remembered per browser (localStorage). The agent is told how large the video area
// is in device pixels, and the zoom, with the data-channel `view` message: at "fit" it encodes at
// that size instead of the full screen (a 4K screen in a 1200-px window costs a 1200-px stream), at
// "full" it sends every pixel. The message goes out once the channel is open and the user allowed
// the session, again on every new connection, and whenever the size or the zoom changed (debounced,
// only when different). The browser share never reads it, so it is not sent there.
//
// Layout: the <video>, the input layer, the annotation canvas and the pointer overlay share one
// "stage" inside a scroller. At fit the stage is the scroller's box; at 1:1 it is the picture's
// size in CSS pixels (screen / devicePixelRatio), centred when smaller, scrolled when larger. The
// video keeps object-fit: contain, so every module that maps through the element's box
// (display.js mapToRemote, cursor.js, annotate.js) stays exact: at 1:1 that box is the whole
// picture, at its scrolled position. Without control the wheel scrolls the view (mouse.js leaves
// it to the browser); with control it goes to the user's computer, and the scroll bars remain.

import { t, language } from "./i18n.js";

export const ZOOMS = ["fit", "full"];
export const STORE_KEY = "veo.console.zoom";
/** Size changes settle for this long before the agent hears of them (a window being dragged). */
export const DEBOUNCE_MS = 250;
/** How often the module looks whether a (new) data channel became usable. */
const POLL_MS = 500;
const MIN_SIDE = 16;
const MAX_SIDE = 16384;

/** The remembered zoom ("fit" unless "full" was chosen in this browser; storage may be refused). */
export function readZoom(storage) {
  try {
    return storage && storage.getItem(STORE_KEY) === "full" ? "full" : "fit";
  } catch {
    return "fit";
  }
}

/** Remember the zoom; a refused storage only means it is not remembered. */
export function writeZoom(storage, zoom) {
  try {
    if (storage) storage.setItem(STORE_KEY, zoom);
  } catch {
    // private mode or a policy: the choice lasts for this page only
  }
}

/**
 * The `view` message for a video area of `width` x `height` CSS pixels at `ratio` device pixels
 * per CSS pixel, or null while the area is too small to mean anything (hidden, folded away).
 */
export function viewMessage(width, height, ratio, zoom) {
  const r = ratio > 0 ? ratio : 1;
  const w = Math.round(width * r);
  const h = Math.round(height * r);
  if (!(w >= MIN_SIDE && h >= MIN_SIDE)) return null;
  return {
    type: "view",
    v: 1,
    width: Math.min(MAX_SIDE, w),
    height: Math.min(MAX_SIDE, h),
    zoom: zoom === "full" ? "full" : "fit",
  };
}

/**
 * The stage's size in CSS pixels at 1:1: one screen pixel per device pixel. The announced screen
 * decides (the stream may still be scaled for a moment after the switch); before it, the video.
 *
 * @returns {{width:number, height:number} | null}
 */
export function actualSize(screen, video, ratio) {
  const r = ratio > 0 ? ratio : 1;
  const source = screen && screen.width > 0 && screen.height > 0 ? screen : video;
  if (!source || !(source.width > 0 && source.height > 0)) return null;
  return { width: source.width / r, height: source.height / r };
}

/** How large the picture is shown against its real size at fit (1 = 100 %), or null. */
export function fitScale(area, screen, ratio) {
  if (!screen || !(screen.width > 0 && screen.height > 0 && area.width > 0 && area.height > 0)) return null;
  const r = ratio > 0 ? ratio : 1;
  return Math.min((area.width * r) / screen.width, (area.height * r) / screen.height);
}

class Zoom {
  constructor(app, doc) {
    this.app = app;
    this.doc = doc;
    this.win = doc.defaultView;
    this.scroller = doc.getElementById("video-scroll");
    this.stage = doc.getElementById("video-stage");
    this.buttons = [...doc.querySelectorAll("[data-zoom-choice]")];
    this.scaleLabel = doc.getElementById("zoom-scale");
    let storage = null;
    try {
      storage = this.win.localStorage;
    } catch {
      storage = null;
    }
    this.storage = storage;
    this.zoom = readZoom(storage);
    this.settled = null; // {width, height, ratio} measured once the size stopped changing
    this.sent = { channel: null, key: "" };
    this.timer = null;
    this.shown = "";

    for (const button of this.buttons) {
      button.addEventListener("click", () => this.choose(button.dataset.zoomChoice));
    }
    if (typeof this.win.ResizeObserver === "function") {
      this.observer = new this.win.ResizeObserver(() => {
        this.showScale();
        this.later();
      });
      this.observer.observe(this.scroller);
    }
    this.watchRatio();
    app.video.addEventListener("resize", () => this.layout());
    this.layout();
    this.measure();
    setInterval(() => this.tick(), POLL_MS);
  }

  ratio() {
    return this.win.devicePixelRatio || 1;
  }

  /** devicePixelRatio changes (browser zoom, another monitor): a media query per value says so. */
  watchRatio() {
    if (typeof this.win.matchMedia !== "function") return;
    const query = this.win.matchMedia(`(resolution: ${this.ratio()}dppx)`);
    const changed = () => {
      query.removeEventListener("change", changed);
      this.layout();
      this.later();
      this.watchRatio();
    };
    query.addEventListener("change", changed);
  }

  choose(zoom) {
    if (!ZOOMS.includes(zoom) || zoom === this.zoom) return;
    const centre = this.centre();
    this.zoom = zoom;
    writeZoom(this.storage, zoom);
    this.layout();
    if (zoom === "full") this.scrollTo(centre);
    // A click is no storm: the agent hears it at once, measured with the scroll bars it brought.
    clearTimeout(this.timer);
    this.timer = null;
    this.measure();
    this.sync();
  }

  /** Where in the picture (0..1) the middle of the visible area is, to keep it there across a switch. */
  centre() {
    const s = this.scroller;
    if (this.zoom !== "full" || !(s.scrollWidth > 0 && s.scrollHeight > 0)) return { x: 0.5, y: 0.5 };
    return { x: (s.scrollLeft + s.clientWidth / 2) / s.scrollWidth, y: (s.scrollTop + s.clientHeight / 2) / s.scrollHeight };
  }

  scrollTo(centre) {
    const s = this.scroller;
    s.scrollLeft = Math.max(0, centre.x * s.scrollWidth - s.clientWidth / 2);
    s.scrollTop = Math.max(0, centre.y * s.scrollHeight - s.clientHeight / 2);
  }

  /** Size the stage for the zoom and show which one is on. */
  layout() {
    const video = { width: this.app.video.videoWidth, height: this.app.video.videoHeight };
    const size = this.zoom === "full" ? actualSize(this.app.state.screen, video, this.ratio()) : null;
    this.scroller.dataset.zoom = size ? "full" : "fit";
    this.stage.style.width = size ? `${size.width}px` : "";
    this.stage.style.height = size ? `${size.height}px` : "";
    const screen = this.app.state.screen;
    this.shown = `${this.zoom}:${screen ? `${screen.width}x${screen.height}` : ""}:${video.width}x${video.height}:${this.ratio()}`;
    for (const button of this.buttons) {
      button.setAttribute("aria-pressed", String(button.dataset.zoomChoice === this.zoom));
    }
    this.showScale();
    if (this.app.remoteCursor) this.app.remoteCursor.place();
    if (this.app.annotator) this.app.annotator.redraw();
  }

  /** The scale the picture is shown at, as a percentage beside the buttons (100 % at 1:1). */
  showScale() {
    if (!this.scaleLabel) return;
    const video = { width: this.app.video.videoWidth, height: this.app.video.videoHeight };
    const screen = this.app.state.screen || (video.width > 0 ? video : null);
    const area = { width: this.scroller.clientWidth, height: this.scroller.clientHeight };
    const scale = this.zoom === "full" ? (screen ? 1 : null) : fitScale(area, screen, this.ratio());
    let text = "";
    if (scale !== null) {
      try {
        text = new Intl.NumberFormat(language(), { style: "percent", maximumFractionDigits: 0 }).format(scale);
      } catch {
        text = `${Math.round(scale * 100)} %`;
      }
    }
    if (this.scaleLabel.textContent !== text) {
      this.scaleLabel.textContent = text;
      this.scaleLabel.title = text ? t("zoom.scale", { percent: text }) : "";
    }
    this.scaleLabel.hidden = !text;
  }

  /** Measure again once the size stopped changing for DEBOUNCE_MS, then tell the agent. */
  later() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.measure();
      this.sync();
    }, DEBOUNCE_MS);
  }

  measure() {
    this.settled = { width: this.scroller.clientWidth, height: this.scroller.clientHeight, ratio: this.ratio() };
  }

  /** The poll: a new screen (monitor switch) re-sizes the stage; a usable channel hears the view. */
  tick() {
    const screen = this.app.state.screen;
    const video = this.app.video;
    const now = `${this.zoom}:${screen ? `${screen.width}x${screen.height}` : ""}:${video.videoWidth}x${video.videoHeight}:${this.ratio()}`;
    if (now !== this.shown) this.layout();
    else this.showScale();
    this.sync();
  }

  /** Send `view` when the channel is usable and it differs from what this channel last heard. */
  sync() {
    const app = this.app;
    if (!this.settled || app.state.mode === "browser" || !app.dataOpen()) return;
    const message = viewMessage(this.settled.width, this.settled.height, this.settled.ratio, this.zoom);
    if (!message) return;
    const key = `${message.width}x${message.height}:${message.zoom}`;
    if (this.sent.channel === app.channel && this.sent.key === key) return;
    if (app.sendData(message)) this.sent = { channel: app.channel, key };
  }
}

/** Feature entry point (console.js FEATURES). */
export function install(app) {
  const doc = document;
  if (!app.video || !doc.getElementById("video-scroll") || !doc.getElementById("video-stage")) return;
  app.zoom = new Zoom(app, doc);
}
