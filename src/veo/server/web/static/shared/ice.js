// ICE for both WebRTC ends of the pages: the console (answerer) and the browser share (offerer).
//
// No trickle ICE: each side sends its description once gathering is complete (or after a short
// cap), so that the server relays one SDP with every candidate and the DTLS fingerprints the SAS is
// computed from are final. One copy of the wait and of the ICE-server filter instead of one per page.

/** How long to wait for gathering before sending what was gathered so far. */
export const GATHER_CAP_MS = 2000;

/** Resolve when ICE gathering is complete, or after `capMs` (whatever was gathered then is sent). */
export function gatheringComplete(pc, capMs = GATHER_CAP_MS) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, capMs);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === "complete") done();
    }
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/**
 * The server's ICE servers (STUN/TURN from its settings, with the peer's own TURN credentials) in
 * RTCPeerConnection's shape: entries without `urls` are left out, only the known fields are kept.
 */
export function iceServers(servers) {
  const valid = (s) => s && (typeof s.urls === "string" || Array.isArray(s.urls));
  return (Array.isArray(servers) ? servers : []).filter(valid).map((s) => {
    const server = { urls: s.urls };
    if (typeof s.username === "string") server.username = s.username;
    if (typeof s.credential === "string") server.credential = s.credential;
    return server;
  });
}

/** The operator's ICE policy (VEO_ICE_TRANSPORT_POLICY): "relay" gathers only TURN relay candidates. */
export function transportPolicy(policy) {
  return policy === "relay" ? "relay" : "all";
}
