"""The one-file agent as ``make agent`` builds it, for the tests of what is inside and of the ``.deb``.

``built_agent`` (session) runs ``packaging/build_agent.py`` (a cache hit takes well under a second;
a cold build about a minute) and reads the file back with PyInstaller's own archive reader, run
in the build venv (the development venv has no PyInstaller: the build extra lives in the build venv
only). A machine that cannot build (not Linux x86_64, no binutils) skips, except under ``CI=true``,
where nothing here may be skipped.

``make test`` runs this folder in a phase of its own, one test after another, not in the xdist
workers of unit and integration: a second worker's fixture (or ``test_a_cached_build_is_copied_in_seconds``)
publishes into ``dist/agent`` again while tests on the other worker read it (the .rpm build once
found the licence file gone). The driver also runs under an exclusive lock, so that two pytest runs
at once do not build into the same cache and publish through the same temporary file names.
"""

from __future__ import annotations

import fcntl
import json
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.packaging.support import DRIVER, REPO, BuiltAgent, run_driver, skip_or_fail

BUILD_LOCK = REPO / "dist" / ".build-agent.lock"


@pytest.fixture(scope="session")
def built_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltAgent]:
    if sys.platform != "linux" or platform.machine() != "x86_64":
        skip_or_fail("the one-file agent is built on Linux x86_64 only")
    for tool in ("strip", "readelf"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} is missing (binutils): the agent cannot be built here")
    report = tmp_path_factory.mktemp("agent-build") / "report.json"
    BUILD_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with BUILD_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        result = run_driver(report)
    assert result.returncode == 0, result.stdout + result.stderr
    paths = json.loads(report.read_text())
    artifact = Path(paths["artifact"])
    venv_python = Path(paths["venv_python"])
    inspected = json.loads(
        subprocess.run(
            [str(venv_python), str(DRIVER), "inspect", str(artifact)],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout
    )
    yield BuiltAgent(
        path=artifact,
        manifest=json.loads(Path(paths["manifest"]).read_text()),
        venv_python=venv_python,
        entries=inspected["entries"],
        modules=frozenset(inspected["modules"]),
        driver_output=result.stdout + result.stderr,
    )
