"""Stand-in agent builds for the download tests: a small ELF-looking file and its manifest.

The real one-file agent is ~90 MB and takes a minute to build (``make agent``; the end-to-end
tests use it). What ``/download`` does with a build (check it, append a trailer, stream it) does
not depend on what is inside, so these tests place a few kilobytes shaped like one.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path

MAGIC = {"linux-x86_64": b"\x7fELF", "deb-amd64": b"!<arch>\ndebian-binary   "}


def stand_in(
    where: Path, platform: str = "linux-x86_64", version: str = "0.2.0", size: int = 64 * 1024
) -> Path:
    """A build of ``platform`` with its manifest beside it (as ``make agent`` leaves them)."""
    where.mkdir(parents=True, exist_ok=True)
    data = MAGIC[platform] + secrets.token_bytes(size - len(MAGIC[platform]))
    name = f"veo-agent_{version}_amd64.deb" if platform == "deb-amd64" else f"veo-agent-{platform}"
    path = where / name
    path.write_bytes(data)
    write_manifest(path, platform, version)
    return path


def write_manifest(path: Path, platform: str, version: str, **changes: object) -> None:
    data = path.read_bytes()
    manifest: dict[str, object] = {
        "name": "veo-agent",
        "platform": platform,
        "version": version,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "built_at": "2026-12-06T12:00:00Z",
        "python": "3.11.7",
        "glibc": "2.31",
        "contents": [{"name": "aiortc", "version": "1.9.0", "license": "BSD-3-Clause"}],
        "cache_key": "test",
    }
    manifest.update(changes)
    path.with_name(path.name + ".json").write_text(json.dumps(manifest), encoding="utf-8")
