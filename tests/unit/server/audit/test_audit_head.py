"""The head marker: written only forwards, only when it moved, only for the signing database's commits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from veo.server.audit import checkpoints, head
from veo.server.db.engine import Database


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "keys"


def test_an_older_head_never_replaces_a_newer_one(directory: Path) -> None:
    head.write(directory, head.Head(5, "e5", 1))
    head.write(directory, head.Head(3, "e3", 0))
    assert head.read(directory) == head.Head(5, "e5", 1)
    head.write(directory, head.Head(5, "e5", 2))  # a checkpoint of the same entry moves it
    assert head.read(directory) == head.Head(5, "e5", 2)


def test_a_head_already_written_touches_no_file(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    head.write(directory, head.Head(7, "e7", 1))

    @contextlib.contextmanager
    def refuse(_directory: Path) -> Iterator[None]:
        raise AssertionError("the marker file was opened for a head it already holds")
        yield

    monkeypatch.setattr(head, "_file_lock", refuse)
    head.write(directory, head.Head(7, "e7", 1))
    head.write(directory, head.Head(6, "e6", 0))
    with pytest.raises(AssertionError):
        head.write(directory, head.Head(8, "e8", 1))


def test_only_the_signing_databases_commits_move_the_marker(tmp_path: Path, directory: Path) -> None:
    signing = Database(f"sqlite:///{tmp_path / 'signing.db'}")
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    checkpoints.configure(signing, checkpoints.Signer(key_directory=directory))
    try:
        with other.session() as s:
            head.note(s, directory, 4, "e4", 1)
        assert head.read(directory) is None
        with signing.session() as s:
            head.note(s, directory, 4, "e4", 1)
        assert head.read(directory) == head.Head(4, "e4", 1)
    finally:
        checkpoints.configure(signing, None)
        signing.dispose()
        other.dispose()
    with signing.session() as s:  # signing stopped: its commits no longer write
        head.note(s, directory, 9, "e9", 2)
    assert head.read(directory) == head.Head(4, "e4", 1)
