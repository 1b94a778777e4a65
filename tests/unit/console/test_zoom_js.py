"""zoom.js: the `view` message (device pixels, debounced, only when different, again on a new
channel), the remembered choice, the 1:1 stage size; and that every mapping through the video's
box (display.js input, cursor.js overlay, annotate.js strokes) stays exact at 1:1 when scrolled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

#: A page with just what zoom.js touches; timers are the real ones except the poll, run by hand.
FAKE_PAGE = """
const polls = [];
globalThis.setInterval = (f) => { polls.push(f); return polls.length; };
const el = (extra = {}) => ({ dataset: {}, style: {}, hidden: false, textContent: "", title: "",
  attrs: {}, listeners: {}, setAttribute(k, v) { this.attrs[k] = v; },
  addEventListener(name, f) { (this.listeners[name] ||= []).push(f); }, ...extra });
const stored = new Map(data.stored || []);
const storage = { getItem: (k) => (stored.has(k) ? stored.get(k) : null),
                  setItem: (k, v) => stored.set(k, v) };
let observed = null;
const win = {
  devicePixelRatio: data.ratio || 1,
  localStorage: storage,
  ResizeObserver: class { constructor(f) { observed = f; } observe() {} },
};
const scroller = el({ clientWidth: data.area[0], clientHeight: data.area[1], scrollLeft: 0, scrollTop: 0,
                      scrollWidth: data.area[0], scrollHeight: data.area[1] });
const stage = el();
const fit = el({ dataset: { zoomChoice: "fit" } });
const full = el({ dataset: { zoomChoice: "full" } });
const scale = el();
const byId = { "video-scroll": scroller, "video-stage": stage, "zoom-scale": scale };
globalThis.document = { defaultView: win, getElementById: (id) => byId[id] || null,
                        querySelectorAll: () => [fit, full] };
const sent = [];
const app = {
  video: el({ videoWidth: 1280, videoHeight: 720 }),
  state: { screen: { width: 2560, height: 1440, x: 0, y: 0 }, mode: "agent" },
  open: false,
  channel: null,
  dataOpen() { return this.open && this.channel !== null; },
  sendData(m) {
    if (!this.dataOpen()) return false;
    sent.push({ channel: this.channel, ...m });
    return true;
  },
};
const { install } = await mod("zoom.js");
install(app);
const poll = () => polls.forEach((f) => f());
const settle = () => new Promise((resolve) => setTimeout(resolve, 400));
"""


def test_view_message_is_in_device_pixels_and_bounded(run_js: RunJs) -> None:
    got = run_js(
        """
        const { viewMessage } = await mod("zoom.js");
        return data.map(([w, h, r, z]) => viewMessage(w, h, r, z));
        """,
        [[1200, 700, 1, "fit"], [960.4, 540.2, 2, "full"], [1000, 600, 1.25, "zoom?"], [0, 0, 1, "fit"],
         [12000, 9000, 2, "fit"]],
    )  # fmt: skip
    assert got == [
        {"type": "view", "v": 1, "width": 1200, "height": 700, "zoom": "fit"},
        {"type": "view", "v": 1, "width": 1921, "height": 1080, "zoom": "full"},
        {"type": "view", "v": 1, "width": 1250, "height": 750, "zoom": "fit"},
        None,  # hidden: nothing to say
        {"type": "view", "v": 1, "width": 16384, "height": 16384, "zoom": "fit"},
    ]


def test_actual_size_is_one_screen_pixel_per_device_pixel(run_js: RunJs) -> None:
    got = run_js(
        """
        const { actualSize, fitScale } = await mod("zoom.js");
        return [
          actualSize({ width: 3840, height: 2160 }, { width: 1920, height: 1080 }, 2),  // the screen decides
          actualSize(null, { width: 1280, height: 720 }, 1),  // before any `screen`: the video
          actualSize(null, { width: 0, height: 0 }, 1),
          fitScale({ width: 960, height: 600 }, { width: 3840, height: 2160 }, 2),
        ];
        """,
    )
    assert got == [{"width": 1920, "height": 1080}, {"width": 1280, "height": 720}, None, 0.5]


def test_choice_is_remembered_and_a_refused_storage_means_fit(run_js: RunJs) -> None:
    got = run_js(
        """
        const { readZoom, writeZoom, STORE_KEY } = await mod("zoom.js");
        const map = new Map();
        const storage = { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, v) };
        const no = () => { throw new Error("denied"); };
        const refusing = { getItem: no, setItem: no };
        const before = readZoom(storage);
        writeZoom(storage, "full");
        writeZoom(refusing, "full");
        map.set("other", "full");
        return [before, readZoom(storage), map.get(STORE_KEY), readZoom(refusing), readZoom(null)];
        """,
    )
    assert got == ["fit", "full", "full", "fit", "fit"]


def test_view_is_sent_once_open_only_when_different_and_again_on_a_new_channel(run_js: RunJs) -> None:
    got = run_js(
        FAKE_PAGE
        + """
        const steps = {};
        poll();
        steps.closed = sent.length;  // no channel yet: nothing
        app.channel = "c1"; app.open = true;
        poll();
        steps.opened = sent.map((m) => [m.channel, m.width, m.height, m.zoom]);
        poll(); poll();
        steps.same = sent.length;  // nothing new: not sent again
        scroller.clientWidth = 1000; observed(); scroller.clientWidth = 1100; observed();
        poll();
        steps.unsettled = sent.length;  // a resize still settling is not sent by the poll
        await settle();
        steps.resized = sent.slice(1).map((m) => [m.width, m.height, m.zoom]);
        app.channel = "c2";  // a resumed connection: the agent hears it again
        poll();
        steps.resumed = sent.slice(2).map((m) => [m.channel, m.width, m.zoom]);
        app.state.mode = "browser"; app.channel = "c3";
        poll();
        steps.browser = sent.length;  // the browser share never reads it
        return steps;
        """,
        {"area": [1200, 700], "ratio": 1.5},
    )
    assert got == {
        "closed": 0,
        "opened": [["c1", 1800, 1050, "fit"]],
        "same": 1,
        "unsettled": 1,
        "resized": [[1650, 1050, "fit"]],  # debounced: the last size only
        "resumed": [["c2", 1650, "fit"]],
        "browser": 3,
    }


def test_one_to_one_sizes_the_stage_remembers_and_says_full(run_js: RunJs) -> None:
    got = run_js(
        FAKE_PAGE
        + """
        app.channel = "c1"; app.open = true;
        poll();
        const pressed = () => [fit.attrs["aria-pressed"], full.attrs["aria-pressed"]];
        const before = { zoom: scroller.dataset.zoom, width: stage.style.width, pressed: pressed(),
                         scale: scale.textContent };
        full.listeners.click[0]();
        await settle();
        const after = { zoom: scroller.dataset.zoom, width: stage.style.width, height: stage.style.height,
                        pressed: pressed(), scale: scale.textContent,
                        stored: stored.get("veo.console.zoom") };
        app.state.screen = { width: 1920, height: 1080, x: 0, y: 0 };  // another monitor shown
        poll();
        const monitor = stage.style.width;
        fit.listeners.click[0]();
        await settle();
        return { before, after, monitor, back: [scroller.dataset.zoom, stage.style.width],
                 sent: sent.map((m) => [m.width, m.height, m.zoom]) };
        """,
        {"area": [1200, 700], "ratio": 2},
    )
    assert got["before"] == {"zoom": "fit", "width": "", "pressed": ["true", "false"], "scale": "94%"}
    assert got["after"] == {
        "zoom": "full",
        "width": "1280px",  # 2560 screen pixels at 2 device pixels per CSS pixel
        "height": "720px",
        "pressed": ["false", "true"],
        "scale": "100%",
        "stored": "full",
    }
    assert got["monitor"] == "960px"
    assert got["back"] == ["fit", ""]
    assert got["sent"] == [[2400, 1400, "fit"], [2400, 1400, "full"], [2400, 1400, "fit"]]


def test_a_remembered_one_to_one_starts_at_one_to_one(run_js: RunJs) -> None:
    got = run_js(
        FAKE_PAGE + "return [scroller.dataset.zoom, stage.style.width, full.attrs['aria-pressed']];",
        {"area": [800, 600], "stored": [["veo.console.zoom", "full"]]},
    )
    assert got == ["full", "2560px", "true"]


def test_mapping_is_exact_at_one_to_one_scrolled(run_js: RunJs) -> None:
    """At 1:1 the element's box is the whole picture, moved by the scroll: input, the pointer
    overlay and annotations all map through it, and agree, whatever the scroll and the ratio."""
    got = run_js(
        """
        const { mapToRemote } = await mod("display.js");
        const { remoteToBox } = await mod("cursor.js");
        const { remoteToClient } = await mod("annotate.js");
        const out = [];
        for (const c of data) {
          // the scroller's visible area starts at (areaLeft, areaTop) on the page; the stage is the
          // picture at screen / ratio CSS pixels, scrolled by (sx, sy)
          const box = { left: c.areaLeft - c.sx, top: c.areaTop - c.sy,
                        width: c.screen[0] / c.ratio, height: c.screen[1] / c.ratio };
          const screen = { width: c.screen[0], height: c.screen[1] };
          const video = { width: c.video[0], height: c.video[1] };
          // a click at the top-left of the visible area: screen pixel (sx, sy) * ratio
          const click = mapToRemote(c.areaLeft, c.areaTop, box, video, screen);
          // the centre of screen pixel (px, py), where the overlay and annotations draw it, maps back to it
          const at = remoteToClient(c.px, c.py, box, video, screen);
          const back = mapToRemote(at.x, at.y, box, video, screen);
          const spot = remoteToBox({ x: c.px, y: c.py }, box, video, screen);
          const drawn = [spot.left + box.left, spot.top + box.top];
          out.push({ click, back, scale: at.scale, spot: drawn, at: [at.x, at.y] });
        }
        return out;
        """,
        [
            # 1920x1080 at ratio 1, scrolled by (500, 300), the stream already full size
            {"areaLeft": 10, "areaTop": 80, "sx": 500, "sy": 300, "ratio": 1, "screen": [1920, 1080],
             "video": [1920, 1080], "px": 1234, "py": 777},
            # 3840x2160 at ratio 2 (1920x1080 CSS px), scrolled by (700.5, 250); the stream still
            # scaled to 1920x1080 for a moment after the switch: pixels of the SCREEN all the same
            {"areaLeft": 0, "areaTop": 64, "sx": 700.5, "sy": 250, "ratio": 2, "screen": [3840, 2160],
             "video": [1920, 1080], "px": 3839, "py": 0},
        ],
    )  # fmt: skip
    first, second = got
    assert first["click"] == {"x": 500, "y": 300}
    assert first["back"] == {"x": 1234, "y": 777} and first["scale"] == 1
    assert first["at"] == [10 - 500 + 1234.5, 80 - 300 + 777.5]
    assert first["spot"] == first["at"]  # the overlay and the annotations agree
    assert second["click"] == {"x": 1401, "y": 500}
    assert second["back"] == {"x": 3839, "y": 0} and second["scale"] == 0.5
    assert second["spot"] == second["at"]
