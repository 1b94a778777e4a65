"""The code secret: one per data directory, private, and a digest nobody without it can recompute."""

from __future__ import annotations

import hashlib
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from veo.server.sessions.code_secret import (
    SECRET_BYTES,
    CodeSecret,
    CodeSecretError,
    key_path,
    load_or_create,
)


def test_the_secret_is_made_once_private_and_read_back(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:  # eight processes starting at once: one secret
        secrets = list(pool.map(lambda _: load_or_create(tmp_path), range(8)))
    assert len(set(secrets)) == 1
    path = key_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_bytes()) == SECRET_BYTES
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary file left behind"
    assert load_or_create(tmp_path) == secrets[0]


def test_an_unusable_key_file_is_named(tmp_path: Path) -> None:
    key_path(tmp_path).parent.mkdir(parents=True)
    key_path(tmp_path).write_bytes(b"short")
    with pytest.raises(CodeSecretError, match=r"session_codes\.key"):
        load_or_create(tmp_path)


def test_digests_are_keyed_and_seals_open_only_with_their_key() -> None:
    one, other = CodeSecret.from_secret(b"\x01" * 32), CodeSecret.from_secret(b"\x02" * 32)
    assert one.digest("123456789") == one.digest("123456789") != other.digest("123456789")
    assert one.digest("123456789") != hashlib.sha256(b"123456789").hexdigest()
    assert one.digest("123456789") == one.digest_of_sha256(hashlib.sha256(b"123456789").hexdigest())
    sealed = one.seal("123456789")
    assert "123456789" not in sealed and sealed != one.seal("123456789")  # a fresh nonce each time
    assert one.unseal(sealed) == "123456789"
    assert other.unseal(sealed) is None
    assert one.unseal(sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")) is None
    assert one.unseal("not base64 at all!") is None
