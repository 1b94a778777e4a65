"""A bare aiortc offerer that streams a flat colour, to check WebRTC inside the namespace.

Not veo: it proves that the namespace, the veth addresses and Chromium's flags let an aiortc peer
and Chromium connect, so that a failing session test points at veo, not at the harness.
Protocol on stdio, one JSON object per line: prints ``{"offer": sdp}``, reads ``{"answer": sdp}``,
then streams until stdin closes.

    python webrtc_peer.py R G B
"""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from av import VideoFrame


class FlatColour(VideoStreamTrack):
    """A 320x240 picture of one colour, at aiortc's default pacing."""

    def __init__(self, rgb: tuple[int, int, int]) -> None:
        super().__init__()
        self.picture = np.zeros((240, 320, 3), dtype=np.uint8)
        self.picture[:, :] = rgb

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(self.picture, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


async def main(rgb: tuple[int, int, int]) -> None:
    loop = asyncio.get_running_loop()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # never Google's STUN (field note 3)
    pc.addTransceiver(FlatColour(rgb), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    print(json.dumps({"offer": pc.localDescription.sdp}), flush=True)
    line = await loop.run_in_executor(None, sys.stdin.readline)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=json.loads(line)["answer"], type="answer"))
    await loop.run_in_executor(None, sys.stdin.read)  # stream until the test closes stdin
    await pc.close()


if __name__ == "__main__":
    r, g, b = (int(v) for v in sys.argv[1:4])
    asyncio.run(main((r, g, b)))
