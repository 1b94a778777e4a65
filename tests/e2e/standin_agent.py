"""A stand-in agent that speaks the real protocol to the real server and cheats on the SAS.

It joins with the code, sends a genuine aiortc offer with ``C = SHA-256(nA)``, waits for the
console's answer and then reveals a nonce that does NOT match ``C`` -- what a man in the middle
who swapped keys would have to do. The product has no test hook for this; this script is the
attacker. Run inside the test namespace:

    python standin_agent.py SERVER_URL CODE RESULT_JSON

It writes ``{"joined": ..., "ended": {"by": ..., "reason": ...}, "messages": [...]}`` to
RESULT_JSON and exits 0 once the server ends the session (1 on any other outcome).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import websockets
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from veo import __version__
from veo.protocol import sas
from veo.protocol.signaling import Join, Offer, Reveal

STEP_TIMEOUT = 60.0


async def _next(ws: Any, wanted: str, seen: list[dict[str, Any]]) -> dict[str, Any]:
    while True:
        raw = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
        message: dict[str, Any] = json.loads(raw)
        seen.append({k: v for k, v in message.items() if k != "sdp"})
        print(f"stand-in received {message.get('type')}", file=sys.stderr, flush=True)
        if message.get("type") == wanted:
            return message
        if message.get("type") in {"ended", "error"} and message.get("fatal", True):
            raise RuntimeError(f"expected {wanted}, got {message}")


async def run(server_url: str, code: str) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []
    result: dict[str, Any] = {"messages": seen}
    ws_url = server_url.replace("http://", "ws://", 1) + "/ws/agent"
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        async with websockets.connect(ws_url) as ws:
            await ws.send(Join(code=code, agent_version=__version__, platform="test").dumps())
            result["joined"] = await _next(ws, "joined", seen)
            pc.createDataChannel("veo")
            pc.addTransceiver("video", direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            nonce_a = sas.new_nonce()
            await ws.send(Offer(sdp=pc.localDescription.sdp, commitment=sas.commitment(nonce_a)).dumps())
            answer = await _next(ws, "answer", seen)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
            forged = sas.new_nonce()  # not the nonce committed to: the console must notice
            await ws.send(Reveal(nonce=forged.hex()).dumps())
            ended = await _next(ws, "ended", seen)
            result["ended"] = {"by": ended.get("by"), "reason": ended.get("reason")}
    finally:
        await pc.close()
    return result


def main() -> int:
    server_url, code, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    try:
        result = asyncio.run(run(server_url, code))
    except Exception as exc:  # report every failure to the test in the result file
        out.write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        print(f"stand-in failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
