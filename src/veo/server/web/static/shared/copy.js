// Copy buttons: <button data-copy="text" data-copied="Copied" data-copy-failed="…">.
// The page stays usable without this script (the text is on the page to select by hand). The
// Clipboard API needs a secure context (HTTPS or localhost); elsewhere a hidden textarea and
// execCommand("copy") do it. The button says "Copied" for a moment, and tells screen readers;
// meanwhile its data-copy-state is "done" or "failed" (for the page's style).
// One copy helper for every page: the ticket page, the account pages and the console.

function fallbackCopy(text) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "copy-scratch";
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // permission refused or no focus: try the old way
    }
  }
  return fallbackCopy(text);
}

function flash(button, message, state) {
  const original = button.dataset.label || button.textContent;
  button.dataset.label = original;
  button.textContent = message;
  button.dataset.copyState = state;
  button.setAttribute("aria-live", "polite");
  clearTimeout(Number(button.dataset.timer || 0));
  button.dataset.timer = String(setTimeout(() => {
    button.textContent = original;
    delete button.dataset.copyState;
  }, 2000));
}

document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
  if (!button) return;
  event.preventDefault();
  const ok = await copyText(button.dataset.copy || "");
  flash(button, ok ? button.dataset.copied || "✓" : button.dataset.copyFailed || "✗", ok ? "done" : "failed");
  button.dispatchEvent(new CustomEvent("veo:copied", { bubbles: true, detail: { ok } }));
});
