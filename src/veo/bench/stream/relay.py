"""A TCP relay: ``python -m veo.bench.stream.relay LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT``.

Runs in the tech namespace so that Chromium opens the veo console on ``http://127.0.0.1`` (a
secure context: WebCrypto for the verification code, the session cookie) while every byte still
crosses the shaped veth to the server on the user side.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until it ends, then close the other side (the e2e forwarder uses it too)."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()


async def _serve(listen: tuple[str, int], target: tuple[str, int]) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, *listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4:
        print("usage: relay LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve((args[0], int(args[1])), (args[2], int(args[3]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
