"""Server-side commands: every one has --help, and bad flags or settings exit 2 with one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from veo.server import main as server_main


@pytest.mark.parametrize("command", [["server"], ["admin"], ["admin", "create-user"], ["audit"]])
def test_help(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "veo", *command, "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "usage: veo" in result.stdout


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
