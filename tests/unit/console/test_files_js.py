"""files.js frames bytes exactly as veo.protocol.transfer does: the agent reads what the console wrote."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from veo.protocol.transfer import FRAME_HEADER, MAX_CHUNK, pack_chunk, unpack_chunk

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py


def _vectors() -> list[dict[str, Any]]:
    rng = random.Random(20261125)
    sizes = [0, 1, 100, MAX_CHUNK - 1, MAX_CHUNK]
    offsets = [0, 1, 16384, 2**32 + 5, 2**40]
    return [
        {"id": rng.randbytes(16).hex(), "offset": offset, "payload": list(rng.randbytes(size))}
        for size, offset in zip(sizes, offsets, strict=True)
    ]


def test_console_frames_match_the_agents(run_js: RunJs) -> None:
    vectors = _vectors()
    packed = run_js(
        """
        const { packChunk } = await mod("files.js");
        return data.map((v) => Array.from(packChunk(v.id, v.offset, Uint8Array.from(v.payload))));
        """,
        vectors,
    )
    for vector, frame in zip(vectors, packed, strict=True):
        assert bytes(frame) == pack_chunk(vector["id"], vector["offset"], bytes(vector["payload"]))
        assert unpack_chunk(bytes(frame)) == (vector["id"], vector["offset"], bytes(vector["payload"]))


def test_console_reads_the_agents_frames_and_refuses_malformed_ones(run_js: RunJs) -> None:
    vectors = _vectors()
    frames = [list(pack_chunk(v["id"], v["offset"], bytes(v["payload"]))) for v in vectors]
    frames += [[0] * (FRAME_HEADER - 1), [0] * (FRAME_HEADER + MAX_CHUNK + 1)]
    read = run_js(
        """
        const { unpackChunk } = await mod("files.js");
        return data.map((f) => {
          const parsed = unpackChunk(Uint8Array.from(f).buffer);
          return parsed && [parsed[0], parsed[1], Array.from(new Uint8Array(parsed[2]))];
        });
        """,
        frames,
    )
    assert read[-2:] == [None, None]
    for vector, got in zip(vectors, read, strict=False):
        assert got == [vector["id"], vector["offset"], vector["payload"]]
