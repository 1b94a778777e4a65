"""An old node restarted after a newer veo migrated the database refuses to start in one sentence.

During a rolling upgrade the first new node migrates; an old node that restarts then (a crash,
a host reboot, compose recreating it) met Alembic's "Can't locate revision" traceback on every
restart. Now ``migrate`` raises :class:`DatabaseNewer` before changing anything, and
``veo server`` exits 2 with "The database is newer than this veo (revision X): upgrade this node."
(the systemd unit does not restart it for that exit status).
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from veo.server.db.migrate import DatabaseNewer, migrate, refuse_newer_database, unknown_revisions

FUTURE = "9999_from_a_newer_veo"
SENTENCE = f"The database is newer than this veo (revision {FUTURE}): upgrade this node."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def newer_database(tmp_path: Path) -> str:
    path = tmp_path / "veo.db"
    url = f"sqlite:///{path}"
    migrate(url, tmp_path)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (FUTURE,))
    return url


def test_migrate_refuses_a_database_a_newer_veo_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'veo.db'}"
    refuse_newer_database(url)  # no file yet: a first start, nothing to refuse
    migrate(url, tmp_path)
    assert unknown_revisions(url) == []
    refuse_newer_database(url)
    url = newer_database(tmp_path)
    with pytest.raises(DatabaseNewer) as refused:
        migrate(url, tmp_path)
    assert (
        str(refused.value) == f"The database is newer than this veo (revision {FUTURE}): upgrade this node."
    )
    with pytest.raises(DatabaseNewer):
        refuse_newer_database(url)


def test_veo_server_exits_with_the_sentence_and_no_traceback(tmp_path: Path) -> None:
    url = newer_database(tmp_path)
    argv = [
        str(Path(sys.executable).with_name("veo")),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(free_port()),
    ]
    argv += ["--database-url", url, "--data-dir", str(tmp_path / "data")]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "VEO_PUBLIC_URL": "http://127.0.0.1:8000"}
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"veo server: {SENTENCE}"]
    unit = (Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "veo-server@.service").read_text()
    assert "RestartPreventExitStatus=2" in unit.splitlines()
