"""Server-side commands: every one has --help, and bad flags or settings exit 2 with one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from veo.server import main as server_main


@pytest.mark.parametrize(
    "command", [["server"], ["admin"], ["admin", "create-user"], ["admin", "set-password"], ["audit"]]
)
def test_help(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "veo", *command, "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "usage: veo" in result.stdout


def test_veo_without_a_command_prints_help_and_exits_2() -> None:
    result = subprocess.run([sys.executable, "-m", "veo"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "usage: veo" in result.stderr and "admin" in result.stderr and "agent" in result.stderr


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--port", "70000"], "between 1 and 65535"),
        (["--port", "http"], "must be a number"),
        (["--public-url", "ftp://example.org"], "public_url"),
    ],
)
def test_bad_server_flags(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        server_main.main(argv)
    assert exit_info.value.code == 2
    assert needle in capsys.readouterr().err
