// Translated UI strings for a page's scripts (the console, the join page's browser share).
//
// The server renders them (gettext) into a <script type="application/json"> block: JSON blocks are
// never executed, so this works under a strict CSP without inline script, and the JavaScript never
// carries English text of its own that translators could miss. One reader and one `{name}` filler
// for every page instead of a copy in each.

const own = (object, key) => Object.prototype.hasOwnProperty.call(object, key);

function fill(template, params) {
  return String(template).replace(/\{(\w+)\}/g, (whole, name) => (own(params, name) ? String(params[name]) : whole));
}

export class Catalog {
  constructor() {
    this.strings = {};
  }

  /** Load the catalog from the page's block `id`; missing or broken blocks leave keys as their own text. */
  load(doc, id) {
    const block = doc.getElementById(id);
    if (!block) return;
    try {
      const parsed = JSON.parse(block.textContent || "{}");
      if (parsed && typeof parsed === "object") this.strings = parsed;
    } catch {
      this.strings = {};
    }
  }

  /** Whether the catalog holds `key` (a sentence for a code the page may not know). */
  has(key) {
    return own(this.strings, key);
  }

  /** The string for `key`, with `{name}` placeholders replaced from `params`. */
  t(key, params = {}) {
    const template = this.has(key) ? this.strings[key] : key;
    return fill(typeof template === "string" ? template : key, params);
  }

  /** The page's language (the server renders it into the catalog as "lang"). */
  language() {
    return typeof this.strings.lang === "string" && this.strings.lang ? this.strings.lang : "en";
  }

  /**
   * Plural text for `count`: the catalog holds {one, other} (ngettext's forms for 1 and 2, rendered
   * by the server) and Intl.PluralRules picks the form for this language; `{count}` is filled in.
   */
  tn(key, count, params = {}) {
    const forms = this.has(key) ? this.strings[key] : null;
    const all = { count, ...params };
    if (!forms || typeof forms !== "object") return fill(key, all);
    let category = "other";
    try {
      category = new Intl.PluralRules(this.language()).select(count);
    } catch {
      category = count === 1 ? "one" : "other";
    }
    const template = category === "one" && forms.one ? forms.one : forms.other || forms.one || key;
    return fill(template, all);
  }
}
