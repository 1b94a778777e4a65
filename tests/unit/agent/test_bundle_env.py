"""The one-file agent's GStreamer/PipeWire variables (its runtime hook) stay out of the programs it starts."""

from __future__ import annotations

import json
import os
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from veo.agent.bundle import BUNDLE_ENV, user_environment

HOOK = Path(__file__).resolve().parents[3] / "packaging" / "agent" / "rthook_gstreamer.py"
HOOK_SETS = (
    "GST_PLUGIN_SYSTEM_PATH",
    "GST_PLUGIN_PATH",
    "GST_PLUGIN_SCANNER",
    "GST_REGISTRY",
    "GST_REGISTRY_FORK",
    "GI_TYPELIB_PATH",
    "GIO_MODULE_DIR",
    "SPA_PLUGIN_DIR",
    "PIPEWIRE_MODULE_DIR",
    "PIPEWIRE_CONFIG_DIR",
    BUNDLE_ENV,
)


@pytest.fixture
def environment_kept() -> Iterator[None]:
    """The hook writes ``os.environ`` itself: every variable is put back as it was, including those
    it created (``monkeypatch.delenv`` of an absent name records nothing to undo, and a
    ``GST_PLUGIN_SYSTEM_PATH`` left behind hid the system's plugins from later tests)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.usefixtures("environment_kept")
def test_the_runtime_hooks_variables_are_undone_for_programs_the_agent_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = str(tmp_path / "_MEI42")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", bundle, raising=False)
    for name in HOOK_SETS:  # recorded, so that monkeypatch undoes what the hook sets
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GST_PLUGIN_PATH", "/opt/my-plugins")  # the user's own
    monkeypatch.setenv("PIPEWIRE_CONFIG_DIR", "/opt/my-pipewire")
    monkeypatch.setenv("HOME", str(tmp_path))

    runpy.run_path(str(HOOK))  # what the bundle does before veo's code runs

    # the agent itself: the bundle's plugins, registry, PipeWire modules; no scanner process
    assert os.environ["GST_PLUGIN_SYSTEM_PATH"] == bundle + "/gst_plugins"
    assert "GST_PLUGIN_PATH" not in os.environ
    assert os.environ["GST_REGISTRY_FORK"] == "no"
    assert os.environ["GST_REGISTRY"].startswith(bundle)
    assert os.environ["SPA_PLUGIN_DIR"] == bundle + "/pipewire/spa-0.2"
    assert os.environ["PIPEWIRE_CONFIG_DIR"] == bundle + "/pipewire/conf"
    assert json.loads(os.environ[BUNDLE_ENV])["GST_PLUGIN_PATH"] == "/opt/my-plugins"

    # a program it starts: the user's values back, the rest gone
    env = user_environment()
    assert env is not None
    assert env["GST_PLUGIN_PATH"] == "/opt/my-plugins"
    assert env["PIPEWIRE_CONFIG_DIR"] == "/opt/my-pipewire"
    for name in HOOK_SETS:
        if name not in ("GST_PLUGIN_PATH", "PIPEWIRE_CONFIG_DIR"):
            assert name not in env, name
    assert not any(bundle in value for value in env.values())
    assert env["HOME"] == str(tmp_path)


def test_a_damaged_record_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_MEI1"), raising=False)
    monkeypatch.setenv(BUNDLE_ENV, "{not json")
    env = user_environment()
    assert env is not None and BUNDLE_ENV not in env


def test_the_bootloaders_own_variables_stay_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the bootloader exports about itself (values that do not name the bundle) does not reach
    the user's programs, and another PyInstaller-built program starts as its own application."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_MEI7"), raising=False)
    monkeypatch.setenv("_PYI_ARCHIVE_FILE", "/home/ana/Downloads/veo-agent")
    monkeypatch.setenv("_PYI_PARENT_PROCESS_LEVEL", "0")
    monkeypatch.setenv("_PYI_LINUX_PROCESS_NAME", "veo-agent-linux")
    monkeypatch.setenv("_MEIPASS2", "/elsewhere")
    monkeypatch.setenv("HOME", str(tmp_path))
    env = user_environment()
    assert env is not None
    assert not [name for name in env if name.startswith(("_PYI_", "_MEI"))]
    assert env["PYINSTALLER_RESET_ENVIRONMENT"] == "1" and env["HOME"] == str(tmp_path)
