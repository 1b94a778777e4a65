"""The signing key: made once with mode 0600, reused after, refused when it is not Ed25519."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from veo.server.audit import keys


def test_created_once_private_only_to_the_owner_then_reused(tmp_path: Path) -> None:
    first = keys.load_or_create(tmp_path / "audit")
    private = tmp_path / "audit" / keys.PRIVATE_NAME
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    second = keys.load_or_create(tmp_path / "audit")
    assert keys.key_id(first.public_key()) == keys.key_id(second.public_key())
    public = keys.load_public(tmp_path / "audit" / keys.PUBLIC_NAME)
    assert keys.key_id(public) == keys.key_id(first.public_key())


def test_signature_check(tmp_path: Path) -> None:
    key = keys.load_or_create(tmp_path)
    signature = key.sign(b"head").hex()
    assert keys.signature_ok(key.public_key(), signature, b"head")
    assert not keys.signature_ok(key.public_key(), signature, b"other")
    assert not keys.signature_ok(key.public_key(), "not hex", b"head")


def test_a_key_of_another_kind_is_refused_with_its_file_named(tmp_path: Path) -> None:
    other = generate_private_key(SECP256R1())
    path = tmp_path / "ec.pem"
    path.write_bytes(
        other.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(keys.KeyFileError, match=r"ec\.pem"):
        keys.load_public(path)
    with pytest.raises(keys.KeyFileError, match=r"missing\.pem"):
        keys.load_public(tmp_path / "missing.pem")


def test_processes_starting_at_once_all_use_one_complete_key(tmp_path: Path) -> None:
    """40 rounds of 8 at once: before keyfiles.write_once, about one round in five had a process
    read the private file while another was still writing it (``KeyFileError``)."""
    with ThreadPoolExecutor(8) as pool:
        for round_ in range(40):
            directory = tmp_path / str(round_) / "audit"
            made = list(pool.map(keys.load_or_create, [directory] * 8))
            assert len({keys.key_id(k.public_key()) for k in made}) == 1
            assert sorted(p.name for p in directory.iterdir()) == [keys.PRIVATE_NAME, keys.PUBLIC_NAME]


def test_the_app_makes_all_three_data_directory_keys_when_it_is_created(tmp_path: Path) -> None:
    """Nodes on separate hosts get their keys as a copy of the first node's ``keys/`` and
    ``audit/`` (docs/deploy.md): the signing key must be there as soon as that node started,
    not at its first checkpoint, or each node signs the shared chain with a key of its own."""
    from veo.config import Settings
    from veo.server.app import create_app

    data_dir = tmp_path / "data"
    create_app(Settings(data_dir=data_dir, database_url=f"sqlite:///{tmp_path / 'veo.db'}"))
    made = sorted(str(path.relative_to(data_dir)) for path in data_dir.rglob("*") if path.is_file())
    assert made == [
        f"audit/{keys.PRIVATE_NAME}",
        f"audit/{keys.PUBLIC_NAME}",
        "keys/session_codes.key",
        "keys/totp.key",
    ]
    assert stat.S_IMODE((data_dir / "audit" / keys.PRIVATE_NAME).stat().st_mode) == 0o600
