"""An agent the server finds too old: the sentence and the download link (``session.py``), and the
host the consent dialog names, taken from the connection (``app.connected_server``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from veo import __version__
from veo.agent.app import connected_server
from veo.agent.bundle import user_environment
from veo.agent.session import download_link, join_error_text
from veo.agent.ui.code import open_in_browser
from veo.agent.ui.consent import ConnectedServer, server_line, warning_text
from veo.i18n import gettext_for
from veo.protocol.signaling import Error

SERVER = "https://support.acme.example"


def _outdated(**extra: object) -> Error:
    return Error(code="agent_outdated", message="agent too old", fatal=True, **extra)  # type: ignore[arg-type]


def test_outdated_says_both_versions_and_that_the_code_still_works() -> None:
    said = join_error_text("en", _outdated(min_version="9.1.0", download_url=SERVER + "/download"))
    assert said.startswith(
        f"This veo app is too old (version {__version__}): the support server needs version 9.1.0 or newer."
    )
    assert "Download the new version from the link below" in said and "Your code was not used" in said
    assert f"(version {__version__}) for the support server." in join_error_text("en", _outdated())
    # other refusals are as before
    assert "already been used" in join_error_text("en", Error(code="code_used", message="x", fatal=True))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (SERVER + "/download", SERVER + "/download"),
        (SERVER + ":443/download/linux-x86_64?lang=es", SERVER + ":443/download/linux-x86_64?lang=es"),
        ("HTTPS://Support.Acme.Example/download", "HTTPS://Support.Acme.Example/download"),
        ("https://evil.example/veo-agent", SERVER + "/download"),  # another host: never under veo's words
        ("https://support.acme.example.evil.example/download", SERVER + "/download"),
        ("https://support.acme.example:8443/download", SERVER + "/download"),  # another port
        ("https://support.acme.example:x/download", SERVER + "/download"),
        ("http://support.acme.example/download", SERVER + "/download"),  # another scheme
        ("http://127.0.0.1:8000/download", SERVER + "/download"),
        ("javascript:alert(1)", SERVER + "/download"),
        ("file:///etc/passwd", SERVER + "/download"),
        (None, SERVER + "/download"),
    ],
)
def test_download_link_is_on_the_connected_server(url: str | None, expected: str) -> None:
    assert download_link(_outdated(min_version="9.1.0", download_url=url), SERVER + "/") == expected


def test_download_link_on_this_computer() -> None:
    local = "http://127.0.0.1:8000"
    assert download_link(_outdated(download_url=local + "/download"), local) == local + "/download"
    assert download_link(_outdated(download_url="http://127.0.0.1:9000/x"), local) == local + "/download"
    assert download_link(_outdated(download_url=SERVER + "/download"), local) == local + "/download"


def test_no_link_for_other_refusals() -> None:
    assert download_link(Error(code="code_used", message="x", fatal=True), SERVER) == ""
    assert download_link(None, SERVER) == ""


class _Channel:
    def __init__(self, verified: str | None) -> None:
        self.verified_host = verified


def test_consent_host_comes_from_the_connection() -> None:
    url = "wss://support.acme.example/ws/agent"
    assert connected_server(_Channel("support.acme.example"), url) == (  # type: ignore[arg-type]
        ConnectedServer("support.acme.example", True)
    )
    # a plain connection (loopback only) is never called checked, whatever the URL says
    assert connected_server(_Channel(None), "ws://127.0.0.1:8000/ws/agent") == (  # type: ignore[arg-type]
        ConnectedServer("127.0.0.1", False)
    )


def test_consent_words() -> None:
    _ = gettext_for("en").gettext
    checked = ConnectedServer("support.acme.example", True)
    assert server_line(_, checked) == "Connected to support.acme.example (its certificate was checked)."
    assert warning_text(_, checked, "ACME IT").startswith(
        "Only continue if support.acme.example is the address of ACME IT and you asked them for help."
    )
    plain = ConnectedServer("127.0.0.1", False)
    assert "without encryption" in server_line(_, plain)
    assert warning_text(_, plain, "ACME IT").startswith("Only continue if you asked ACME IT for help.")


def test_the_browser_gets_the_users_environment_not_the_bundles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-file agent runs with LD_LIBRARY_PATH into its bundle: the browser must not."""
    bundle = str(tmp_path / "_MEI123")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", bundle, raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", bundle)
    monkeypatch.setenv("TCL_LIBRARY", bundle + "/_tcl_data")
    monkeypatch.setenv("HOME", str(tmp_path))
    env = user_environment()
    assert env is not None
    assert "LD_LIBRARY_PATH" not in env and "TCL_LIBRARY" not in env and env["HOME"] == str(tmp_path)
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/opt/mine/lib")  # the user's own, saved by PyInstaller
    env = user_environment()
    assert env is not None and env["LD_LIBRARY_PATH"] == "/opt/mine/lib" and "LD_LIBRARY_PATH_ORIG" not in env

    # a stand-in xdg-open records what it was given
    record = tmp_path / "opened"
    opener = tmp_path / "bin" / "xdg-open"
    opener.parent.mkdir()
    opener.write_text(f'#!/bin/sh\necho "$1 LD=${{LD_LIBRARY_PATH-unset}}" > {record}\n')
    opener.chmod(0o755)
    monkeypatch.setenv("PATH", f"{opener.parent}:/usr/bin:/bin")
    monkeypatch.delenv("LD_LIBRARY_PATH_ORIG")
    open_in_browser(SERVER + "/download")
    assert _opened(record) == f"{SERVER}/download LD=unset"  # its whole line, not a file just made
    # not frozen: the standard library's webbrowser, in this environment
    monkeypatch.setattr(sys, "frozen", False)
    assert user_environment() is None


def _stand_in(folder: Path, name: str, record: Path) -> None:
    """A program that writes its arguments and the variables that matter to ``record``."""
    folder.mkdir(exist_ok=True)
    program = folder / name
    program.write_text(
        f'#!/bin/sh\necho "{name} $* LD=${{LD_LIBRARY_PATH-unset}} GST=${{GST_PLUGIN_SYSTEM_PATH-unset}}'
        f' PYI=${{_PYI_ARCHIVE_FILE-unset}} RESET=${{PYINSTALLER_RESET_ENVIRONMENT-unset}}" > {record}\n'
    )
    program.chmod(0o755)


def _opened(record: Path) -> str:
    deadline = time.monotonic() + 10
    while not (record.exists() and record.read_text().endswith("\n")) and time.monotonic() < deadline:
        time.sleep(0.05)
    return record.read_text().strip()


def test_frozen_without_xdg_open_the_next_opener_runs_in_the_users_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frozen, the standard library's webbrowser never runs: it would start the browser with the
    bundle's environment. gio, then sensible-browser, in the user's own environment."""
    import webbrowser

    def no_webbrowser(*_args: object, **_kwargs: object) -> bool:
        raise AssertionError("webbrowser used by a frozen agent")

    monkeypatch.setattr(webbrowser, "open", no_webbrowser)
    bundle = str(tmp_path / "_MEI9")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", bundle, raising=False)
    monkeypatch.delenv("LD_LIBRARY_PATH_ORIG", raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", bundle)
    monkeypatch.setenv("GST_PLUGIN_SYSTEM_PATH", bundle + "/gst_plugins")
    monkeypatch.setenv("_PYI_ARCHIVE_FILE", "/home/ana/Downloads/veo-agent")
    record = tmp_path / "opened"
    only = tmp_path / "bin"  # no xdg-open here, and nothing else on PATH
    _stand_in(only, "sensible-browser", record)
    monkeypatch.setenv("PATH", str(only))
    open_in_browser(SERVER + "/download")
    assert _opened(record) == f"sensible-browser {SERVER}/download LD=unset GST=unset PYI=unset RESET=1"

    record.unlink()
    _stand_in(only, "gio", record)  # gio comes before sensible-browser
    open_in_browser(SERVER + "/download")
    assert _opened(record) == f"gio open {SERVER}/download LD=unset GST=unset PYI=unset RESET=1"

    # nothing to open it with: an error the code window logs (the address stays on screen)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(OSError, match="no program to open a web address"):
        open_in_browser(SERVER + "/download")


def test_system_information_runs_programs_outside_the_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from veo.agent.sysinfo import program_version

    bundle = str(tmp_path / "_MEI123")
    program = tmp_path / "bin" / "someapp"
    program.parent.mkdir()
    program.write_text('#!/bin/sh\necho "someapp 1.0 LD=${LD_LIBRARY_PATH-unset}"\n')
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{program.parent}:/usr/bin:/bin")
    monkeypatch.setenv("LD_LIBRARY_PATH", bundle)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", bundle, raising=False)
    assert program_version("someapp")["version"] == "someapp 1.0 LD=unset"
    monkeypatch.setattr(sys, "frozen", False)  # the pip-installed agent: its environment as it is
    assert program_version("someapp")["version"] == f"someapp 1.0 LD={bundle}"


def test_an_agent_it_installed_says_to_ask_it_not_to_download() -> None:
    from veo.agent import session

    try:
        for source in ("link", "installed"):
            session.configure_updates(source)
            said = join_error_text("en", _outdated(min_version="9.1.0"))
            assert said.endswith(
                "Ask your IT department to update veo on this computer. "
                "Your code was not used: it still works."
            )
            assert "Download" not in said
        for source in ("embedded", "command_line"):
            session.configure_updates(source)
            assert "Download the new version from the link below" in join_error_text("en", _outdated())
    finally:
        session.configure_updates("command_line")


@pytest.mark.parametrize(("source", "asks_it"), [("installed", True), ("command_line", False)])
def test_main_tells_the_session_how_the_agent_was_started(
    source: str, asks_it: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from veo.agent import launch, session
    from veo.agent import main as agent_main

    seen: list[str] = []
    monkeypatch.setattr(
        agent_main, "run_agent", lambda *_a: seen.append(join_error_text("en", _outdated())) or 0
    )
    monkeypatch.setattr(agent_main, "install_crash_handlers", lambda *_a: None)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    installed = tmp_path / "agent.json"
    installed.write_text(json.dumps({"v": 1, "servers": [SERVER], "organization": "ACME IT"}))
    monkeypatch.setenv(launch.INSTALLED_CONFIG_ENV, str(installed))
    args = ["--lang", "en"] + (["--server", SERVER] if source == "command_line" else [])
    try:
        assert agent_main.main(args) == 0
    finally:
        session.configure_updates("command_line")
    assert ("Ask your IT department" in seen[0]) is asks_it
