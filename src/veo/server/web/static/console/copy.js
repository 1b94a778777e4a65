// Copy buttons (data-copy="text"): the join code and the join link, read to the user on the phone
// or pasted into a message. The button says "Copied" for a moment; when the browser refuses the
// clipboard it says to copy by hand instead.

import { t } from "./i18n.js";

const SHOWN_MS = 2000;

async function writeText(doc, text) {
  if (doc.defaultView.navigator.clipboard && doc.defaultView.isSecureContext) {
    await doc.defaultView.navigator.clipboard.writeText(text);
    return;
  }
  // Plain http to a server by name: the async clipboard is not offered; the old way still works.
  const area = doc.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "visually-hidden";
  doc.body.append(area);
  area.select();
  const ok = doc.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy refused");
}

export function install(app, doc = document) {
  for (const button of doc.querySelectorAll("button[data-copy]")) {
    const label = button.textContent;
    let timer = null;
    button.addEventListener("click", () => {
      const show = (key, state) => {
        button.textContent = t(key);
        button.dataset.copied = state;
        clearTimeout(timer);
        timer = setTimeout(() => {
          button.textContent = label;
          delete button.dataset.copied;
        }, SHOWN_MS);
      };
      writeText(doc, button.dataset.copy || "").then(
        () => show("copy.done", "true"),
        () => show("copy.failed", "false"),
      );
    });
  }
}
