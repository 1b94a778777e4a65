"""Two nodes append to one audit log on PostgreSQL; ``veo audit verify`` passes on either node.

Each node is a process of its own with its own engine, signing checkpoints and moving the head
marker (``audit/head.py``) in its data directory. Appends are serialized by the PostgreSQL
advisory lock (``audit/lock.py``), so the two processes make one chain with one run of
checkpoint numbers. Checked both ways a deployment may do it: separate data directories holding
a copy of one signing key (each marker then records the newest entry its own node wrote, which
the shared log still holds), and one data directory shared by both (the markers' writes are
serialized by a file lock and only ever move forward).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from veo.server.audit import cli as audit_cli
from veo.server.audit import head as head_marker
from veo.server.audit import keys
from veo.server.audit.models import AuditCheckpoint, AuditEvent
from veo.server.db.engine import Database

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]
ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
EACH = 40

NODE = """
import sys
from pathlib import Path
from veo.server.audit import checkpoints, keys, service
from veo.server.db.engine import Database

url, data_dir, name, count = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
db = Database(url)
checkpoints.configure(db, checkpoints.Signer(keys.key_dir(data_dir), every_entries=7))
sys.stdin.readline()  # both nodes start appending together
for i in range(count):
    with db.session() as s:
        service.record(s, "test.node", actor=name, details={"i": i})
db.dispose()
"""


def _run_nodes(url: str, data_dirs: list[Path]) -> None:
    nodes = [
        subprocess.Popen(
            [sys.executable, "-c", NODE, url, str(d), f"node-{n}", str(EACH)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n, d in enumerate(data_dirs)
    ]
    for node in nodes:
        assert node.stdin is not None
        node.stdin.write(b"go\n")
        node.stdin.flush()
    for node in nodes:
        _out, err = node.communicate(timeout=120)
        assert node.returncode == 0, err.decode(errors="replace")[-2000:]


def _verify(url: str, data_dir: Path) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = audit_cli.main(["--database-url", url, "--data-dir", str(data_dir), "verify"])
    return code, out.getvalue()


def _log(url: str) -> tuple[int, int, set[str]]:
    db = Database(url)
    try:
        with db.session() as s:
            entries = s.scalar(select(func.count()).select_from(AuditEvent)) or 0
            signed = s.scalar(select(func.count()).select_from(AuditCheckpoint)) or 0
            actors = set(s.scalars(select(AuditEvent.actor).distinct()))
            return entries, signed, actors
    finally:
        db.dispose()


def _same_key(first: Path, second: Path) -> None:
    """What an operator does for separate data directories: copy the signing key to each node."""
    keys.load_or_create(keys.key_dir(first))
    keys.key_dir(second).mkdir(parents=True)
    for name in (keys.PRIVATE_NAME, keys.PUBLIC_NAME):
        shutil.copy2(keys.key_dir(first) / name, keys.key_dir(second) / name)


@ON_POSTGRESQL
def test_two_nodes_with_their_own_data_directories_and_one_key_pass_verify(
    database_url: str, tmp_path: Path
) -> None:
    first, second = tmp_path / "node-0", tmp_path / "node-1"
    _same_key(first, second)

    _run_nodes(database_url, [first, second])

    entries, signed, actors = _log(database_url)
    assert entries == 2 * EACH and actors == {"node-0", "node-1"} and signed >= 2 * EACH // 7
    for data_dir in (first, second):
        marker = head_marker.read(keys.key_dir(data_dir))
        assert marker is not None and 1 <= marker.seq <= entries  # each node's own newest entry
        code, report = _verify(database_url, data_dir)
        assert code == 0, report
        assert "chain intact" in report and "signatures valid" in report
        assert f"newest entry this server wrote (seq {marker.seq})" in report


@ON_POSTGRESQL
def test_two_nodes_sharing_one_data_directory_pass_verify(database_url: str, tmp_path: Path) -> None:
    shared = tmp_path / "shared"

    _run_nodes(database_url, [shared, shared])

    entries, _signed, actors = _log(database_url)
    assert entries == 2 * EACH and actors == {"node-0", "node-1"}
    marker = head_marker.read(keys.key_dir(shared))
    assert marker is not None and marker.seq == entries  # the newest of both nodes' heads
    code, report = _verify(database_url, shared)
    assert code == 0, report
    assert f"newest entry this server wrote (seq {entries})" in report


@ON_POSTGRESQL
def test_a_node_with_a_key_of_its_own_makes_verify_fail_on_the_others(
    database_url: str, tmp_path: Path
) -> None:
    """Separate data directories need one key: checkpoints by another key are not accepted."""
    first, second = tmp_path / "node-0", tmp_path / "node-1"

    _run_nodes(database_url, [first, second])

    code, report = _verify(database_url, first)
    assert code == 1 and "signed by another key" in report
