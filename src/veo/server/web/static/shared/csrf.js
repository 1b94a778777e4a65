// The session's CSRF token, which every state-changing request of a signed-in page must carry:
// the server refuses a POST, PUT, PATCH or DELETE that comes with the session cookie but without
// it (403 csrf_failed). base.html puts it in <meta name="csrf-token">; scripts send it as the
// X-CSRF-Token header, or as the csrf_token form field where no header can be set
// (navigator.sendBeacon). One reader for the console's modules instead of a copy in each.

export function csrfToken(doc) {
  const meta = doc.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") || "" : "";
}
