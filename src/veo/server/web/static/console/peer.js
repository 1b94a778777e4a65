// The WebRTC side of the console: always the answerer (the agent offers).
//
// No trickle ICE: the answer goes out once gathering is complete (or after a short cap) so that the
// server relays one answer with every candidate and the fingerprints for the SAS are final. The
// agent creates the data channel "veo"; we receive it together with the video track.

import { gatheringComplete, iceServers, transportPolicy } from "../shared/ice.js";

export const DATA_CHANNEL_LABEL = "veo";

export class Peer {
  /**
   * @param {{onTrack:(track:MediaStreamTrack, streams:MediaStream[])=>void,
   *          onChannel:(channel:RTCDataChannel)=>void,
   *          onState:(state:string)=>void}} handlers
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.pc = null;
    this.iceServers = [];
    this.iceTransportPolicy = "all";
  }

  /**
   * ICE servers for the next connection (STUN/TURN from the server's settings; none by default)
   * and, when given, the operator's policy: "relay" gathers only TURN relay candidates
   * (VEO_ICE_TRANSPORT_POLICY); anything else is "all".
   */
  setIceServers(servers, policy) {
    if (policy !== undefined) this.iceTransportPolicy = transportPolicy(policy);
    this.iceServers = iceServers(servers);
  }

  /** Apply the agent's offer and return our complete answer SDP (after ICE gathering). */
  async answer(offerSdp) {
    this.close();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, iceTransportPolicy: this.iceTransportPolicy });
    this.pc = pc;
    pc.addEventListener("track", (event) => this.handlers.onTrack(event.track, event.streams));
    pc.addEventListener("datachannel", (event) => {
      this.handlers.onChannel(event.channel); // the console routes by label (veo, veo-files)
    });
    pc.addEventListener("connectionstatechange", () => {
      if (this.pc === pc) this.handlers.onState(pc.connectionState);
    });
    await pc.setRemoteDescription({ type: "offer", sdp: offerSdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gatheringComplete(pc);
    return pc.localDescription.sdp;
  }

  close() {
    if (this.pc) {
      const pc = this.pc;
      this.pc = null;
      pc.close();
    }
  }
}
