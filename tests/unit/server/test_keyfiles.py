"""Key files of the data directory: made once, private, complete; sealed values keep their layout."""

from __future__ import annotations

import base64
import os
import secrets
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veo.server import keyfiles
from veo.server.auth import totp_seal
from veo.server.sessions import code_secret


def test_a_key_is_made_once_private_and_read_back_by_every_racing_process(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "some.key"
    with ThreadPoolExecutor(8) as pool:  # eight processes starting at once: one key
        keys = list(pool.map(lambda _: keyfiles.load_or_create_key(path, 32), range(8)))
    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["some.key"], "no temporary file left behind"
    assert keyfiles.load_or_create_key(path, 32) == keys[0]


def test_write_once_keeps_the_first_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b.pem"
    assert keyfiles.write_once(path, b"first") is True
    assert keyfiles.write_once(path, b"second") is False
    assert path.read_bytes() == b"first" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_damaged_key_is_named_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "short.key"
    path.parent.mkdir()
    path.write_bytes(b"short")
    with pytest.raises(keyfiles.KeyFileError, match=r"short\.key.*32 bytes expected, found 5"):
        keyfiles.load_or_create_key(path, 32)
    assert path.read_bytes() == b"short"
    path.chmod(0)
    if os.geteuid() != 0:  # root reads anything
        with pytest.raises(keyfiles.KeyFileError, match=r"short\.key"):
            keyfiles.load_or_create_key(path, 32)


def test_sealed_values_open_only_with_their_key_and_associated_data() -> None:
    key = secrets.token_bytes(32)
    sealer = keyfiles.Sealer(key)
    sealed = sealer.seal("JBSWY3DPEHPK3PXP", b"here")
    assert sealed != sealer.seal("JBSWY3DPEHPK3PXP", b"here")  # a fresh nonce each time
    assert sealer.open(sealed, b"here") == "JBSWY3DPEHPK3PXP"
    assert sealer.open(sealed, b"there") is None
    assert keyfiles.Sealer(secrets.token_bytes(32)).open(sealed, b"here") is None
    assert sealer.open(sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB"), b"here") is None
    assert sealer.open("not base64 at all!", b"here") is None
    # the layout stored in the database: base64url(nonce 12 + ciphertext + tag 16)
    raw = base64.urlsafe_b64decode(sealed)
    assert AESGCM(key).decrypt(raw[:12], raw[12:], b"here") == b"JBSWY3DPEHPK3PXP"


def _sealed_the_old_way(key: bytes, plain: str, aad: bytes) -> str:
    """What code_secret.py and totp_seal.py wrote before they used keyfiles (rows of 0014/0015)."""
    nonce = secrets.token_bytes(12)
    return base64.urlsafe_b64encode(nonce + AESGCM(key).encrypt(nonce, plain.encode(), aad)).decode()


def test_values_stored_by_earlier_versions_still_open(tmp_path: Path) -> None:
    totp = totp_seal.load_or_create(tmp_path)
    totp_key = totp_seal.key_path(tmp_path).read_bytes()
    stored = "v1." + _sealed_the_old_way(totp_key, "A" * 32, b"veo totp secret for user 7")
    assert len(stored) <= totp_seal.SEALED_CHARS
    assert totp.open(stored, 7) == "A" * 32 and totp.open(stored, 8) is None

    codes = code_secret.load_or_create(tmp_path)
    stored = _sealed_the_old_way(codes.seal_key, "123456789", b"veo join code")
    assert len(stored) <= code_secret.SEALED_CHARS
    assert codes.unseal(stored) == "123456789"
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["session_codes.key", "totp.key"]


def test_a_process_uses_a_random_key_until_it_is_given_the_data_directory(tmp_path: Path) -> None:
    key = keyfiles.DataDirKey(Path("keys", "some.key"), 32, bytes.hex)
    random = key.active()
    assert key.active() == random and not (tmp_path / "keys").exists()  # kept, written nowhere
    used = key.use(tmp_path)
    assert used == (tmp_path / "keys" / "some.key").read_bytes().hex() != random
    assert key.active() == used == key.load_or_create(tmp_path)
    assert key.path(tmp_path) == tmp_path / "keys" / "some.key"
