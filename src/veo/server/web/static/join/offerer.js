// The browser share's WebRTC side: like the agent, always the OFFERER with the SAS commitment.
//
// Order (design.md §3): draw nA, send only C = SHA-256(nA) with the offer; apply the console's
// answer (which carries its nB); only then reveal nA. The six-digit code comes from the DTLS
// fingerprints each side actually uses (ours from our local SDP, the console's from the answer
// text we received) and both nonces, exactly as the console and the agent compute it.
//
// The video transceiver is created WITHOUT a track: nothing of the screen exists, let alone leaves,
// until the user has seen the code and pressed Allow; then `share(track)` puts the captured track
// on the already negotiated sender (no renegotiation).

import { fromHex, newNonce, sasCode, sha256Fingerprint, toHex } from "../console/sas.js";
import { gatheringComplete, iceServers, transportPolicy } from "../shared/ice.js";

export const DATA_CHANNEL_LABEL = "veo";

/** SHA-256 of a hex string's bytes, as lowercase hex (the commitment C). */
export async function commitmentOf(nonceHex) {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", fromHex(nonceHex));
  return toHex(new Uint8Array(digest));
}

export class Offerer {
  /**
   * @param {{onChannel:(channel:RTCDataChannel)=>void, onState:(state:string)=>void}} handlers
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.pc = null;
    this.sender = null;
    this.nonceA = "";
    this.offerSdp = "";
  }

  /**
   * Create the connection and return {sdp, commitment} for the `offer` message; `policy` is the
   * operator's ICE policy from `joined` ("relay": TURN relay candidates only).
   */
  async offer(servers, policy) {
    this.close();
    const pc = new RTCPeerConnection({ iceServers: iceServers(servers), iceTransportPolicy: transportPolicy(policy) });
    this.pc = pc;
    const transceiver = pc.addTransceiver("video", { direction: "sendonly" });
    this.sender = transceiver.sender;
    const channel = pc.createDataChannel(DATA_CHANNEL_LABEL);
    this.handlers.onChannel(channel);
    pc.addEventListener("connectionstatechange", () => {
      if (this.pc === pc) this.handlers.onState(pc.connectionState);
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    this.offerSdp = pc.localDescription.sdp;
    this.nonceA = newNonce();
    return { sdp: this.offerSdp, commitment: await commitmentOf(this.nonceA) };
  }

  /**
   * Apply the console's answer; return {nonce: nA to reveal, sas: six digits}.
   * Throws when the answer cannot be applied or carries no fingerprint.
   */
  async accept(answerSdp, nonceB, sessionId) {
    if (!this.pc) throw new Error("no offer");
    await this.pc.setRemoteDescription({ type: "answer", sdp: answerSdp });
    const fpOffer = sha256Fingerprint(this.offerSdp);
    const fpAnswer = sha256Fingerprint(answerSdp);
    if (!fpOffer || !fpAnswer) throw new Error("no DTLS fingerprint");
    const sas = await sasCode(fpOffer, fpAnswer, this.nonceA, nonceB, sessionId);
    return { nonce: this.nonceA, sas };
  }

  /** Start sending the captured track (after Allow). */
  async share(track) {
    if (!this.sender) throw new Error("no connection");
    await this.sender.replaceTrack(track);
  }

  close() {
    if (this.pc) {
      const pc = this.pc;
      this.pc = null;
      this.sender = null;
      pc.close();
    }
  }
}
