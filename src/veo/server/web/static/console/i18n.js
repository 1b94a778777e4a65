// Translated UI strings for the console: its catalog is the page's <script type="application/json"
// id="console-i18n"> block, read by the pages' shared reader (static/shared/i18n.js).

import { Catalog } from "../shared/i18n.js";

const catalog = new Catalog();

/** Load the catalog from the page; missing or broken blocks leave keys as their own text. */
export function loadStrings(doc = document) {
  catalog.load(doc, "console-i18n");
}

/** The string for `key`, with `{name}` placeholders replaced from `params`. */
export function t(key, params = {}) {
  return catalog.t(key, params);
}

/** The page's language (the server renders it into the catalog as "lang"). */
export function language() {
  return catalog.language();
}

/** Plural text for `count` in the page's language ({one, other} in the catalog), `{count}` filled in. */
export function tn(key, count, params = {}) {
  return catalog.tn(key, count, params);
}
