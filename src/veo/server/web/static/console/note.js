// The session note (the tools panel's Note tab, and the end card once the session is over).
//
// "Save note" keeps it on this session; "Save and resolve the ticket" also makes it the ticket's
// resolution and marks the ticket resolved (POST /sessions/<id>/note with resolve=1; the server
// does it through the tickets service, audited). After the session the form posts as a page and
// lands on the ticket; during it, it is saved in the background so the console stays open.

import { t } from "./i18n.js";

export function install(app, doc = document) {
  const form = doc.getElementById("note-form");
  const status = doc.getElementById("note-status");
  if (!form) return;
  const say = (key, ok) => {
    if (!status) return;
    status.textContent = t(key);
    status.dataset.state = ok ? "saved" : "failed";
    status.hidden = false;
  };
  form.addEventListener("submit", (event) => {
    if (app.state.ended || app.state.aborted) return; // a plain post: on to the ticket
    event.preventDefault();
    const body = new FormData(form, event.submitter || undefined);
    fetch(form.action, { method: "POST", body, credentials: "same-origin" }).then(
      (response) => {
        say(response.ok ? "note.saved" : "note.failed", response.ok);
        if (response.ok && body.get("resolve") === "1") {
          const resolve = doc.getElementById("note-resolve");
          if (resolve) resolve.hidden = true; // the ticket is resolved now
        }
      },
      () => say("note.failed", false),
    );
  });
}
