// What the user's desktop lets veo do: the agent's `desktop` message, sent once the user allowed
// (again on every verified connection after a resume).
//
// On Wayland the desktop itself asks the user a second time (its own sharing window) and may
// allow less than veo's dialog did: no remote control at all (a desktop without the
// RemoteDesktop portal: view only), control switched off by the user in that window, drawings
// that cannot appear on the user's screen, no emergency stop key. Each limit is said here as a
// sentence in the technician's language (the "desktop.<limit>" strings of console.html), in a
// line above the remote screen; the agent's `control{granted}` stays the truth for input, and
// what needs control (Send keys, Ask for control) is hidden as for control the user did not grant.

import { t } from "./i18n.js";

/** Limits said to the technician, in this order; `pointer_in_picture` changes nothing they see. */
export const SAID_LIMITS = ["no_remote_desktop", "control_refused", "control_at_start", "no_overlay", "no_stop_key"];
const KNOWN_LIMITS = [...SAID_LIMITS, "pointer_in_picture"];
const BACKENDS = ["x11", "portal"];

/**
 * Validate the agent's `desktop` message; anything malformed is ignored (null), unknown limits
 * are left out.
 *
 * @param {any} m the parsed message
 * @returns {{backend: string, control: boolean, limits: string[]} | null}
 */
export function parseDesktop(m) {
  if (!m || typeof m !== "object" || !BACKENDS.includes(m.backend) || typeof m.control !== "boolean") return null;
  const given = Array.isArray(m.limits) ? m.limits : [];
  const limits = KNOWN_LIMITS.filter((limit) => given.includes(limit));
  return { backend: m.backend, control: m.control, limits };
}

/** Whether the user's desktop refuses remote control (state `s`; unknown until the agent said). */
export function desktopDeniesControl(s) {
  return Boolean(s.desktop && s.desktop.control === false);
}

/** The limits as sentences for the technician, in a stable order. */
export function limitSentences(desktop) {
  if (!desktop) return [];
  return SAID_LIMITS.filter((limit) => desktop.limits.includes(limit)).map((limit) => t(`desktop.${limit}`));
}

/** Why control is off because of the desktop (a sentence), or "" when the desktop is not why. */
export function desktopControlWhy(s) {
  if (!desktopDeniesControl(s)) return "";
  const reason = ["control_refused", "no_remote_desktop", "control_at_start"].find((limit) => s.desktop.limits.includes(limit));
  return t(`desktop.${reason || "no_remote_desktop"}`);
}

export function install(app, doc = document) {
  const list = doc.getElementById("desktop-limits");
  const stopKey = doc.getElementById("stop-key");
  const draw = () => {
    const desktop = app.state.desktop;
    if (list) {
      const items = limitSentences(desktop).map((sentence, i) => {
        const item = doc.createElement("li");
        item.textContent = sentence;
        item.dataset.limit = SAID_LIMITS.filter((limit) => desktop.limits.includes(limit))[i];
        return item;
      });
      list.replaceChildren(...items);
      list.hidden = items.length === 0;
    }
    // the Session tab's hint names the stop keys: on a desktop without them, say what works instead
    if (stopKey && desktop && desktop.limits.includes("no_stop_key")) stopKey.textContent = t("desktop.no_stop_key");
  };
  app.onDataType("desktop", (m) => {
    const desktop = parseDesktop(m);
    if (!desktop) return;
    app.state.desktop = desktop;
    draw();
  });
  draw();
}
