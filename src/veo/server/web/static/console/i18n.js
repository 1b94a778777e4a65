// Translated UI strings for the console.
//
// The server renders them (gettext) into a <script type="application/json" id="console-i18n"> block:
// JSON blocks are never executed, so this works under a strict CSP without inline script, and the
// JavaScript never carries English text of its own that translators could miss.

let strings = {};

/** Load the catalog from the page; missing or broken blocks leave keys as their own text. */
export function loadStrings(doc = document) {
  const block = doc.getElementById("console-i18n");
  if (!block) return;
  try {
    const parsed = JSON.parse(block.textContent || "{}");
    if (parsed && typeof parsed === "object") strings = parsed;
  } catch {
    strings = {};
  }
}

/** The string for `key`, with `{name}` placeholders replaced from `params`. */
export function t(key, params = {}) {
  const template = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  return String(template).replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}
