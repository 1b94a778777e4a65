"""``veo bench agent-file`` on the built file, once: it measures something, so it cannot rot unseen."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.packaging.support import BuiltAgent, skip_or_fail


def test_the_bench_times_the_code_window(built_agent: BuiltAgent, tmp_path: Path) -> None:
    if shutil.which("Xvfb") is None:
        skip_or_fail("Xvfb is not installed")
    out = tmp_path / "agent-file.json"
    result = subprocess.run(
        [sys.executable, "-m", "veo", "bench", "agent-file", "--file", str(built_agent.path),
         "--runs", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(out.read_text())
    assert figures["size_bytes"] == built_agent.path.stat().st_size
    assert figures["glibc"] == built_agent.manifest["glibc"]
    for key in ("first_start_s", "warm_start_s", "help_s"):
        assert 0.1 < figures[key] < 60, (key, figures[key])
    assert "to the code window" in result.stdout


def test_a_missing_file_is_a_sentence(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "veo", "bench", "agent-file", "--file", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "is not an executable file: build it with make agent" in result.stderr
    assert "Traceback" not in result.stderr
