// The remote screen: the <video> element and the mapping from a pointer position to remote pixels.
//
// The video is scaled to fit and letterboxed (object-fit: contain), and the agent may send a scaled
// stream (videoWidth != screen width). Input coordinates are pixels of the agent's captured screen
// (announced in the data-channel `screen` message), so every pointer event is mapped through the
// letterbox and the scale here; events that fall in the bars are ignored, never clamped into a click.
// At 1:1 (zoom.js) the element is the picture's own size inside a scroller: its client box starts
// left of / above the visible area by the scroll offset and has no bars, so the same proportion
// gives the exact pixel there too.

/**
 * Map a point in page (client) coordinates to remote screen pixels.
 *
 * @param {number} clientX pointer x in client coordinates
 * @param {number} clientY pointer y in client coordinates
 * @param {{left:number, top:number, width:number, height:number}} box the video element's content box
 * @param {{width:number, height:number}} video intrinsic size of the decoded video (videoWidth/Height)
 * @param {{width:number, height:number}} screen the agent's announced screen size (or the video size)
 * @param {boolean} clamp when true, points outside the picture are pulled to its edge (for releases)
 * @param {{width:number, height:number} | null} previous the screen announced before `screen`, if any
 * @returns {{x:number, y:number} | null} integer pixels, or null outside the picture / before any frame /
 *   while the frame still has the previous screen's shape and not the new one's (a monitor switch in flight)
 */
export function mapToRemote(clientX, clientY, box, video, screen, clamp = false, previous = null) {
  if (!(video.width > 0 && video.height > 0 && box.width > 0 && box.height > 0)) return null;
  if (!(screen.width > 0 && screen.height > 0)) return null;
  // Right after a switch of monitor the old picture may still show while the new `screen` is known:
  // a click on it would be aimed at the old picture, so none goes out until the new frames arrive.
  if (!clamp && previous && sameShape(video, previous) && !sameShape(video, screen)) return null;
  const scale = Math.min(box.width / video.width, box.height / video.height);
  const shownWidth = video.width * scale;
  const shownHeight = video.height * scale;
  const left = box.left + (box.width - shownWidth) / 2;
  const top = box.top + (box.height - shownHeight) / 2;
  let fx = (clientX - left) / shownWidth;
  let fy = (clientY - top) / shownHeight;
  if (fx < 0 || fx > 1 || fy < 0 || fy > 1) {
    if (!clamp) return null;
    fx = Math.min(1, Math.max(0, fx));
    fy = Math.min(1, Math.max(0, fy));
  }
  const x = Math.min(screen.width - 1, Math.max(0, Math.floor(fx * screen.width)));
  const y = Math.min(screen.height - 1, Math.max(0, Math.floor(fy * screen.height)));
  return { x, y };
}

/** Whether two sizes have the same aspect ratio (within 2 %: the agent crops odd sizes to even). */
function sameShape(a, b) {
  if (!(a.width > 0 && a.height > 0 && b.width > 0 && b.height > 0)) return false;
  const ratio = a.width / a.height / (b.width / b.height);
  return ratio > 0.98 && ratio < 1.02;
}

/** Owns the <video>: attaches the remote stream and answers "where on the remote screen is this?". */
export class RemoteDisplay {
  /**
   * @param {HTMLVideoElement} video
   * @param {() => ({width:number, height:number} | null)} announcedScreen the agent's `screen` size
   * @param {() => ({width:number, height:number} | null)} previousScreen the size announced before it
   */
  constructor(video, announcedScreen, previousScreen = () => null) {
    this.video = video;
    this.announcedScreen = announcedScreen;
    this.previousScreen = previousScreen;
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
  }

  /** Show a received track; play() may be refused until a gesture, muted autoplay is allowed. */
  attach(track, streams) {
    const stream = streams && streams[0] ? streams[0] : new MediaStream([track]);
    this.video.srcObject = stream;
    this.video.play().catch(() => {
      // Muted autoplay is allowed everywhere veo supports; a refusal only delays the first frame.
    });
  }

  detach() {
    this.video.srcObject = null;
  }

  /** Remote pixels for a pointer event, or null outside the picture (see mapToRemote). */
  toRemote(event, clamp = false) {
    const rect = this.video.getBoundingClientRect();
    const style = getComputedStyle(this.video);
    const px = (name) => parseFloat(style.getPropertyValue(name)) || 0;
    const box = {
      left: rect.left + px("border-left-width") + px("padding-left"),
      top: rect.top + px("border-top-width") + px("padding-top"),
      width: rect.width - px("border-left-width") - px("border-right-width") - px("padding-left") - px("padding-right"),
      height: rect.height - px("border-top-width") - px("border-bottom-width") - px("padding-top") - px("padding-bottom"),
    };
    const video = { width: this.video.videoWidth, height: this.video.videoHeight };
    const screen = this.announcedScreen() || video;
    return mapToRemote(event.clientX, event.clientY, box, video, screen, clamp, this.previousScreen());
  }
}
