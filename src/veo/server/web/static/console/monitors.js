// Monitors: the user's monitors above the video, to show one of them or the whole desktop.
//
// The agent lists them (`monitors`: id, name, position, size, primary, and which one is shown) once
// the user allowed viewing and whenever they change. A click sends `select_monitor`; the agent then
// captures only that monitor and announces the new coordinate space with `screen` (its origin and
// size), which console.js stores in `app.state.screen`: the display maps pointer positions into it,
// and the agent adds the origin back before injecting, so clicks land on the monitor shown.

import { t } from "./i18n.js";

const ALL = "all";
const ID = /^[A-Za-z0-9_.-]{1,40}$/;
const MAX_MONITORS = 16;

function int(value) {
  return Number.isInteger(value) ? value : null;
}

/**
 * Validate the agent's `monitors` message; anything malformed is left out, never shown.
 *
 * @param {any} m the parsed message
 * @returns {{monitors: Array<{id:string, name:string, x:number, y:number, width:number, height:number, primary:boolean}>, current:string} | null}
 */
export function parseMonitors(m) {
  if (!m || !Array.isArray(m.monitors)) return null;
  const monitors = [];
  for (const item of m.monitors.slice(0, MAX_MONITORS)) {
    if (!item || typeof item.id !== "string" || !ID.test(item.id)) continue;
    const [x, y, width, height] = [int(item.x), int(item.y), int(item.width), int(item.height)];
    if (x === null || y === null || !(width > 0) || !(height > 0)) continue;
    const name = typeof item.name === "string" ? item.name.slice(0, 80) : "";
    monitors.push({ id: item.id, name, x, y, width, height, primary: item.primary === true });
  }
  const current = typeof m.current === "string" && ID.test(m.current) ? m.current : ALL;
  return { monitors, current };
}

/** "2: 1920×1080 at 1920,0 (primary)", translated. */
export function monitorLabel(monitor) {
  const params = { id: monitor.id, width: monitor.width, height: monitor.height, x: monitor.x, y: monitor.y };
  return t(monitor.primary ? "monitors.entry_primary" : "monitors.entry", params);
}

/** The selector: one button for the whole desktop and one per monitor, the shown one pressed. */
class MonitorBar {
  constructor(app, doc) {
    this.app = app;
    this.bar = doc.getElementById("monitor-bar");
    this.list = doc.getElementById("monitor-list");
    this.doc = doc;
    this.monitors = [];
    this.current = ALL;
    this.pending = null; // id asked for, until the agent's list says it is shown
  }

  onMonitors(m) {
    const parsed = parseMonitors(m);
    if (!parsed) return;
    this.monitors = parsed.monitors;
    this.current = parsed.current;
    if (this.pending === this.current) this.pending = null;
    this.draw();
  }

  select(id) {
    if (id === this.current && this.pending === null) return;
    if (this.app.sendData({ type: "select_monitor", v: 1, monitor: id })) {
      this.pending = id;
      this.draw();
    }
  }

  button(id, label) {
    const button = this.doc.createElement("button");
    button.type = "button";
    button.className = "monitor-choice";
    button.dataset.monitor = id;
    button.textContent = label;
    const shown = id === this.current;
    button.setAttribute("aria-pressed", shown ? "true" : "false");
    if (id === this.pending) button.classList.add("monitor-pending");
    button.addEventListener("click", () => this.select(id));
    return button;
  }

  draw() {
    if (!this.bar || !this.list) return;
    // one monitor only: nothing to choose (the whole desktop is that monitor)
    const visible = this.monitors.length > 1 && !this.app.state.ended;
    this.bar.hidden = !visible;
    this.bar.dataset.current = this.current;
    const buttons = [this.button(ALL, t("monitors.all"))];
    for (const monitor of this.monitors) buttons.push(this.button(monitor.id, monitorLabel(monitor)));
    this.list.replaceChildren(...buttons);
  }
}

export function install(app) {
  const bar = new MonitorBar(app, document);
  app.onDataType("monitors", (m) => bar.onMonitors(m));
}
