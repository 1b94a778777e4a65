// Key names as the technician's keyboard prints them, and the "Send keys" menu for combinations
// the technician's own computer would keep for itself (Ctrl+Alt+Del, Alt+Tab, the Windows key).
//
// Names come from the page's catalog ("key.<DOM key name>": "Supr", "Mayús", "RePág" in Spanish),
// so a combination reads as the person's keyboard says it. A combination goes out as the key
// messages a real keyboard would give (each key down in order, then up in reverse), through the
// console's one input gate: nothing leaves unless the agent said control is active.

import { t } from "./i18n.js";

/** DOM `code` for each key a combination may hold (the agent maps `key`; `code` says which one). */
const CODES = {
  Control: "ControlLeft",
  Alt: "AltLeft",
  Shift: "ShiftLeft",
  Meta: "MetaLeft",
  Delete: "Delete",
  End: "End",
  Home: "Home",
  Tab: "Tab",
  Escape: "Escape",
  PrintScreen: "PrintScreen",
  Enter: "Enter",
  Backspace: "Backspace",
  PageUp: "PageUp",
  PageDown: "PageDown",
};

/** The combinations the menu offers, in order. */
export const COMBOS = [
  ["Control", "Alt", "Delete"],
  ["Alt", "Tab"],
  ["Meta"],
  ["Control", "Escape"],
  ["PrintScreen"],
];

/** One key's printed name ("Supr" for Delete in Spanish); an unknown key keeps its DOM name. */
export function keyName(key) {
  const label = t(`key.${key}`);
  return label === `key.${key}` ? key : label;
}

/** "Ctrl+Alt+Supr": a combination as the technician's keyboard prints it. */
export function keyCombo(keys) {
  return keys.map(keyName).join("+");
}

/** The key messages of a combination: downs in order, ups in reverse. */
export function comboMessages(keys) {
  const message = (key, down) => ({ type: "key", v: 1, key, code: CODES[key] || "", down });
  return [...keys.map((k) => message(k, true)), ...[...keys].reverse().map((k) => message(k, false))];
}

/** Feature entry point (console.js FEATURES): the menu in the stage's tool bar. */
export function install(app, doc = document) {
  const menu = doc.getElementById("keys-menu");
  const list = doc.getElementById("keys-list");
  if (!menu || !list) return;
  for (const keys of COMBOS) {
    const button = doc.createElement("button");
    button.type = "button";
    button.className = "tool keys-combo";
    button.dataset.keys = keys.join("+");
    button.textContent = keyCombo(keys);
    button.addEventListener("click", () => {
      const messages = comboMessages(keys);
      let sent = true;
      for (const m of messages) sent = app.sendInput(m) && sent;
      if (sent) app.notify("keys.sent", { keys: keyCombo(keys) });
      else app.notifyNotSent();
      menu.open = false;
    });
    list.append(button);
  }
}
