"""Helpers for the audit tests: a database whose appends sign checkpoints; ``veo audit`` in-process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from veo.server.audit import checkpoints, keys
from veo.server.audit import cli as audit_cli
from veo.server.db.engine import Database


@contextmanager
def signing_database(
    database_url: str, data_dir: Path, *, every_entries: int, every_minutes: int
) -> Iterator[Database]:
    """A database whose appends sign a checkpoint as often as the server's ``Signer`` is told,
    with the signing key under ``data_dir``; signing is switched off again afterwards."""
    database = Database(database_url)
    signer = checkpoints.Signer(
        key_directory=keys.key_dir(data_dir), every_entries=every_entries, every_minutes=every_minutes
    )
    checkpoints.configure(database, signer)
    try:
        yield database
    finally:
        checkpoints.configure(database, None)
        database.dispose()


def run_audit_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``veo audit`` with ``argv``: its exit code (also when it exits through SystemExit), stdout, stderr."""
    try:
        code = audit_cli.main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
