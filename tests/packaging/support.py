"""Helpers of the packaging tests: the built agent read back, the bare environment, CI's no-skip rule."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DRIVER = REPO / "packaging" / "build_agent.py"
#: What a desktop session gives a program it starts, at least (nothing of this checkout).
MINIMAL_PATH = "/usr/bin:/bin"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class BuiltAgent:
    path: Path
    manifest: dict[str, object]
    venv_python: Path
    #: archive entry name -> {"type", "size", "usize"} (PyInstaller's CArchive table of contents)
    entries: dict[str, dict[str, object]]
    #: every module in the PYZ archive
    modules: frozenset[str]
    driver_output: str

    def extract(self, name: str) -> bytes:
        """One entry's bytes, read by PyInstaller's CArchiveReader in the build venv."""
        code = (
            "import sys; from PyInstaller.archive.readers import CArchiveReader;"
            "sys.stdout.buffer.write(CArchiveReader(sys.argv[1]).extract(sys.argv[2]))"
        )
        return subprocess.run(
            [str(self.venv_python), "-c", code, str(self.path), name],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout


def run_driver(report: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DRIVER), "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        cwd=REPO,
    )


def bare_env(home: Path, *extra: str) -> list[str]:
    """``env -i`` with a minimal PATH and a throwaway HOME: none of this checkout's environment."""
    return ["env", "-i", f"PATH={MINIMAL_PATH}", f"HOME={home}", *extra]
