"""The verifier on plain objects: chain walk and checkpoint checks, without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from veo.server.audit import keys
from veo.server.audit.checkpoints import signed_bytes
from veo.server.audit.export import Checkpoint, Entry
from veo.server.audit.service import GENESIS, canonical, entry_hash
from veo.server.audit.verify import verify

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def chain(n: int) -> list[Entry]:
    entries: list[Entry] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        at = T0 + timedelta(seconds=seq)
        content = canonical(seq, at, "a", "x.y", None, None, "", {"seq": seq})
        entries.append(
            Entry(seq, at, "a", "x.y", None, None, "", {"seq": seq}, prev, entry_hash(prev, content))
        )
        prev = entries[-1].hash
    return entries


def checkpoint(tmp_path: Path, number: int, entry: Entry) -> Checkpoint:
    key = keys.load_or_create(tmp_path)
    kid = keys.key_id(key.public_key())
    signature = key.sign(signed_bytes(number, entry.seq, entry.hash, T0, kid)).hex()
    return Checkpoint(number, entry.seq, entry.hash, T0, kid, signature)


def test_intact(tmp_path: Path) -> None:
    entries = chain(6)
    cps = [checkpoint(tmp_path, 1, entries[0]), checkpoint(tmp_path, 2, entries[4])]
    report = verify(entries, cps, keys.load_or_create(tmp_path).public_key())
    assert report.ok and report.covered_to == 5 and report.chain.count == 6


def test_without_a_key_only_the_chain_is_checked(tmp_path: Path) -> None:
    entries = chain(3)
    forged = replace(checkpoint(tmp_path, 1, entries[0]), signature="00" * 64)
    assert verify(entries, [forged], None).ok


def test_each_kind_of_problem(tmp_path: Path) -> None:
    entries = chain(6)
    public = keys.load_or_create(tmp_path).public_key()
    good = checkpoint(tmp_path, 1, entries[1])
    cases = {
        "bad_signature": [replace(good, hash=entries[2].hash)],
        "missing": [checkpoint(tmp_path, 2, entries[1])],
        "beyond_chain": [checkpoint(tmp_path, 1, replace(entries[5], seq=9))],
        "hash_mismatch": [checkpoint(tmp_path, 1, replace(entries[1], hash="ab" * 32))],
        "unknown_key": [replace(good, key_id="cd" * 32)],
    }
    for expected, cps in cases.items():
        report = verify(entries, cps, public)
        assert not report.ok and expected in [p.problem for p in report.problems], expected


def test_first_broken_entry_is_named() -> None:
    entries = chain(5)
    entries[2] = replace(entries[2], actor="mallory")
    report = verify(entries, [], None)
    assert (report.chain.seq, report.chain.problem, report.chain.count) == (3, "altered", 2)
    removed = chain(5)
    del removed[3]
    assert (verify(removed, [], None).chain.seq, verify(removed, [], None).chain.problem) == (4, "missing")
