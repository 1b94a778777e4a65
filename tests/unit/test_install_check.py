"""The install check reports a module that cannot import, and one that pulls in what it must not.

Its real run (``make install-check``) builds venvs; here a throwaway package stands in for
``veo.agent`` inside the current interpreter, so the reporting itself is tested in a second.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tests.install_check import CheckFailed, clean_environment, import_all


def _package(root: Path) -> None:
    package = root / "fakepkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "good.py").write_text("import wave\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "broken.py").write_text("import veo_no_such_dependency\n")


def _venv(root: Path) -> Path:
    """A stand-in venv whose python is this interpreter (the package needs only the stdlib)."""
    venv = root / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    return venv


def test_a_module_that_cannot_import_is_named(tmp_path: Path) -> None:
    _package(tmp_path)
    with pytest.raises(CheckFailed) as failed:
        import_all(_venv(tmp_path), "fakepkg", tmp_path, forbidden=("wave",))
    message = str(failed.value)
    assert "fakepkg.sub.broken: ModuleNotFoundError: No module named 'veo_no_such_dependency'" in message
    assert "importing fakepkg loaded wave, which this extra must not need" in message
    assert "fakepkg.good:" not in message


def test_a_clean_package_passes_and_is_counted(tmp_path: Path) -> None:
    _package(tmp_path)
    (tmp_path / "fakepkg" / "sub" / "broken.py").write_text("")
    assert import_all(_venv(tmp_path), "fakepkg", tmp_path) == 4  # the package, good, sub, sub.broken


def test_the_callers_environment_does_not_leak_in(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "VEO_DATABASE_URL", "DISPLAY"):
        monkeypatch.setenv(name, "leak")
    env = clean_environment(VEO_DATA_DIR="/tmp/x")
    assert not {"PYTHONPATH", "VIRTUAL_ENV", "VEO_DATABASE_URL", "DISPLAY"} & set(env)
    assert env["VEO_DATA_DIR"] == "/tmp/x"
