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

function fill(template, params) {
  return String(template).replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

/** The string for `key`, with `{name}` placeholders replaced from `params`. */
export function t(key, params = {}) {
  const template = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  return fill(typeof template === "string" ? template : key, params);
}

/** The page's language (the server renders it into the catalog as "lang"). */
export function language() {
  return typeof strings.lang === "string" && strings.lang ? strings.lang : "en";
}

/**
 * Plural text for `count`: the catalog holds {one, other} (ngettext's forms for 1 and 2, rendered
 * by the server) and Intl.PluralRules picks the form for this language; `{count}` is filled in.
 */
export function tn(key, count, params = {}) {
  const forms = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : null;
  const all = { count, ...params };
  if (!forms || typeof forms !== "object") return fill(key, all);
  let category = "other";
  try {
    category = new Intl.PluralRules(language()).select(count);
  } catch {
    category = count === 1 ? "one" : "other";
  }
  const template = category === "one" && forms.one ? forms.one : forms.other || forms.one || key;
  return fill(template, all);
}
