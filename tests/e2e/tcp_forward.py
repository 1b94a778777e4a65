"""Forward one TCP port to another address: ``python tcp_forward.py LISTEN_HOST:PORT TARGET_HOST:PORT``.

The TURN test runs it inside the agent's and the console's namespaces so that both reach veo's
signaling at ``http://127.0.0.1:<port>`` as in every other test (the agent refuses plain ``ws://``
to anything but localhost, and the console needs a secure context for WebCrypto) while the server
itself lives in the relay's namespace. It carries signaling only: the media cannot use it (it is
one TCP port on the server's address, and ICE never learns of it).
"""

from __future__ import annotations

import asyncio
import sys

from veo.bench.stream.relay import pipe


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def main(listen: tuple[str, int], target: tuple[str, int]) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*target)
        except OSError as exc:
            print(f"cannot reach {target}: {exc}", flush=True)
            writer.close()
            return
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(handle, *listen, reuse_address=True)
    print(f"forwarding {listen} -> {target}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(_address(sys.argv[1]), _address(sys.argv[2])))
