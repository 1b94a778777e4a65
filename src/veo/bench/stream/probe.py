"""The in-page half of the measurement: decode the timestamp pattern from what the browser shows.

Injected with Playwright into the veo console (frames of ``#remote-video``, one decode per frame
the compositor presents, through ``requestVideoFrameCallback``) and into noVNC (its canvas, read
on every animation frame, since noVNC draws into a canvas as updates arrive). Both decode exactly
as :func:`veo.bench.stream.pattern.decode` does, with the same thresholds, and record, when a new
value first shows, ``Date.now() - value``: the same wall clock the workload stamped.

:data:`PC_SPY` wraps ``RTCPeerConnection`` (an init script, so before the console's own code
runs) to keep the console's connections, whose ``getStats()`` gives the bytes and frames received.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page

from veo.bench.stream import pattern

PC_SPY = """
(() => {
  const Native = window.RTCPeerConnection;
  if (!Native || window.__benchPCs) return;
  window.__benchPCs = [];
  // the drop scenario's timeline: [time, what] of each connection's states and signaling message
  const log = window.__benchTimeline = [];
  const note = (what) => { if (log.length < 5000) log.push([Date.now(), what]); };
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      const n = window.__benchPCs.push(this);
      note(`pc${n} new`);
      this.addEventListener("connectionstatechange", () => note(`pc${n} ${this.connectionState}`));
    }
  };
  const NativeSocket = window.WebSocket;
  const type = (data) => { try { return JSON.parse(data).type || "?"; } catch { return "?"; } };
  window.WebSocket = class extends NativeSocket {
    constructor(...args) {
      super(...args);
      note("signaling connecting");
      this.addEventListener("open", () => note("signaling open"));
      this.addEventListener("close", () => note("signaling closed"));
      this.addEventListener("message", (e) => note(`signaling <- ${type(e.data)}`));
    }
    send(data) { note(`signaling -> ${type(data)}`); return super.send(data); }
  };
})();
"""

_PROBE = """
(cfg) => {
  const B = window.__veoBench = window.__veoBench || {last: null, firstFrameAt: 0};
  B.cfg = cfg;
  B.reset = () => {
    B.lat = []; B.frames = 0; B.updates = 0; B.invalid = 0; B.maxGap = 0; B.lastUpdateAt = 0;
    B.t0 = Date.now(); B.events = []; B.sightings = [];
  };
  B.reset();
  const cv = document.createElement("canvas");
  cv.width = cfg.blocks * cfg.block; cv.height = cfg.block;
  const ctx = cv.getContext("2d", {willReadFrequently: true});
  const check = (v) => (v ^ (v >> 4) ^ (v >> 8) ^ (v >> 12)) & 0xF;
  const decode = (src, w, h, y = cfg.y) => {
    const kx = w / cfg.screenW, ky = h / cfg.screenH;
    ctx.drawImage(src, cfg.x * kx, y * ky, cv.width * kx, cv.height * ky, 0, 0, cv.width, cv.height);
    const d = ctx.getImageData(0, 0, cv.width, cv.height).data;
    let word = 0;
    const half = cfg.block >> 1;
    for (let i = 0; i < cfg.blocks; i++) {
      let sum = 0, n = 0;
      for (let dy = -3; dy < 3; dy++) for (let dx = -3; dx < 3; dx++) {
        const k = ((half + dy) * cv.width + i * cfg.block + half + dx) * 4;
        sum += 0.299 * d[k] + 0.587 * d[k + 1] + 0.114 * d[k + 2]; n++;
      }
      const luma = sum / n;
      if (luma < cfg.dark) word = word * 2;
      else if (luma > cfg.light) word = word * 2 + 1;
      else return null;
    }
    const value = word >>> cfg.checkBits;
    return check(value) === (word & 0xF) ? value : null;
  };
  // the drop scenario: every change of the pattern or of the key row, [time, pattern, key row]
  const note = (now, value, keys) => {
    if (cfg.keysY === null || B.events.length >= 20000) return;
    if ((value !== null && value !== B.last) || (keys !== null && keys !== B.lastKeys)) {
      B.events.push([now, value, keys]);
    }
    if (keys !== null) B.lastKeys = keys;
  };
  const seen = (now, value, keys = null) => {
    note(now, value, keys);
    B.frames++;
    if (!B.firstFrameAt) B.firstFrameAt = now;
    if (value === null) { B.invalid++; return; }
    if (value === B.last) return;
    if (B.last !== null) {
      const lat = ((now - value) % cfg.modulus + cfg.modulus) % cfg.modulus;
      if (lat < 10000) B.lat.push(lat);
    }
    if (B.sightings.length < 50000) B.sightings.push([now, value]);
    if (B.lastUpdateAt) B.maxGap = Math.max(B.maxGap, now - B.lastUpdateAt);
    B.lastUpdateAt = now; B.updates++; B.last = value;
  };
  if (B.timer) clearInterval(B.timer);
  if (cfg.mode === "video") {
    let attached = null;
    const onFrame = (video) => () => {
      if (video !== attached) return;
      if (video.videoWidth) {
        const w = video.videoWidth, h = video.videoHeight;
        const keys = cfg.keysY === null ? null : decode(video, w, h, cfg.keysY);
        seen(Date.now(), decode(video, w, h), keys);
      }
      video.requestVideoFrameCallback(onFrame(video));
    };
    B.timer = setInterval(() => {
      const video = document.querySelector(cfg.selector);
      if (video && video !== attached) { attached = video; video.requestVideoFrameCallback(onFrame(video)); }
    }, 100);
  } else {
    let lastCanvasSig = null;
    const tick = () => {
      const canvas = document.querySelector(cfg.selector);
      if (canvas && canvas.width >= cfg.screenW) {
        const value = decode(canvas, canvas.width, canvas.height);
        if (value !== lastCanvasSig) { lastCanvasSig = value; seen(Date.now(), value); }
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }
  return true;
}
"""

_SNAPSHOT = """
async () => {
  const B = window.__veoBench;
  const out = {lat: B.lat, frames: B.frames, updates: B.updates, invalid: B.invalid,
               maxGap: B.maxGap, t0: B.t0, now: Date.now(), firstFrameAt: B.firstFrameAt,
               rtpBytes: 0, dcBytes: 0, framesDecoded: 0, codec: null, width: 0, height: 0,
               pair: null};
  for (const pc of window.__benchPCs || []) {
    const codecs = {};
    const report = await pc.getStats();
    report.forEach((s) => { if (s.type === "codec") codecs[s.id] = s.mimeType; });
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        out.rtpBytes += (s.bytesReceived || 0) + (s.headerBytesReceived || 0);
        out.framesDecoded += s.framesDecoded || 0;
        out.codec = codecs[s.codecId] || out.codec;
        out.width = s.frameWidth || out.width; out.height = s.frameHeight || out.height;
      }
      if (s.type === "data-channel") out.dcBytes += s.bytesReceived || 0;
      if (s.type === "transport" && s.selectedCandidatePairId) {
        const pair = report.get(s.selectedCandidatePairId);
        const local = pair && report.get(pair.localCandidateId);
        const remote = pair && report.get(pair.remoteCandidateId);
        if (local && remote) out.pair = local.candidateType + "/" + remote.candidateType;
      }
    });
  }
  return out;
}
"""


@dataclass
class Snapshot:
    """What the page had recorded since the last :meth:`Probe.reset`."""

    latencies_ms: list[float]
    frames: int
    updates: int
    invalid: int
    max_gap_ms: float
    elapsed_ms: float
    first_frame_at_ms: float
    rtp_bytes: int
    dc_bytes: int
    frames_decoded: int
    codec: str | None
    frame_size: tuple[int, int]
    #: the selected candidate pair's types, console side first: ``host/host``, ``relay/relay``...
    candidates: str | None = None


class Probe:
    """The probe inside one page: install once, then reset/snapshot around each workload."""

    def __init__(
        self, page: Page, mode: str, selector: str, width: int, height: int, keys_row: bool = False
    ) -> None:
        self.page = page
        layout = pattern.Layout(width, height)
        self.config: dict[str, Any] = {
            "mode": mode,
            "selector": selector,
            "screenW": width,
            "screenH": height,
            "x": layout.x,
            "y": layout.y,
            "block": layout.size,
            "blocks": pattern.BLOCKS,
            "checkBits": pattern.CHECK_BITS,
            "dark": pattern.DARK_BELOW,
            "light": pattern.LIGHT_ABOVE,
            "modulus": pattern.MODULUS,
            # the key row is decoded, and changes recorded, only in the video mode (veo)
            "keysY": layout.keys_y if keys_row else None,
        }

    def install(self) -> None:
        self.page.evaluate(_PROBE, self.config)

    def reset(self) -> None:
        self.page.evaluate("() => window.__veoBench.reset()")

    def first_frame_at_ms(self) -> float:
        value = self.page.evaluate("() => (window.__veoBench && window.__veoBench.firstFrameAt) || 0")
        return float(value)

    def timeline(self) -> list[tuple[float, str]]:
        """(page time ms, what) of the console's connections and signaling (see :data:`PC_SPY`)."""
        raw: list[list[Any]] = self.page.evaluate("() => window.__benchTimeline || []")
        return [(float(t), str(what)) for t, what in raw]

    def events(self) -> list[tuple[float, int | None, int | None]]:
        """Since the last reset: (page time ms, pattern, key row) at each change either showed
        (only with ``keys_row``)."""
        raw: list[list[Any]] = self.page.evaluate("() => window.__veoBench.events")
        return [(float(t), v, k) for t, v, k in raw]

    def sightings(self) -> list[tuple[float, int]]:
        """Since the last reset: (page time ms, pattern value) of each new value's first sight
        (the stage timeline and the burst scenario read latencies with their times)."""
        raw: list[list[Any]] = self.page.evaluate("() => window.__veoBench.sightings || []")
        return [(float(t), int(v)) for t, v in raw]

    def snapshot(self) -> Snapshot:
        raw: dict[str, Any] = self.page.evaluate(_SNAPSHOT)
        return Snapshot(
            latencies_ms=[float(v) for v in raw["lat"]],
            frames=int(raw["frames"]),
            updates=int(raw["updates"]),
            invalid=int(raw["invalid"]),
            max_gap_ms=float(raw["maxGap"]),
            elapsed_ms=float(raw["now"]) - float(raw["t0"]),
            first_frame_at_ms=float(raw["firstFrameAt"]),
            rtp_bytes=int(raw["rtpBytes"]),
            dc_bytes=int(raw["dcBytes"]),
            frames_decoded=int(raw["framesDecoded"]),
            codec=raw["codec"],
            frame_size=(int(raw["width"]), int(raw["height"])),
            candidates=raw["pair"],
        )
