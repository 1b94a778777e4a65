"""The enrolment token stays out of the command line (review R1-3).

``/proc/<pid>/cmdline`` is readable by every local user and ``sudo`` logs the whole command: so
``veo agent enrol`` asks for the token (no echo) in a terminal, reads one line of standard input
with ``--token -``, and still takes ``--token T`` (scripts, tests) with a warning.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from veo.agent.device import cli
from veo.i18n import gettext_for

TOKEN = "veo-enrol-" + "a" * 32
PROMPT = "Enrolment token (from the server's Devices page; it is not shown as you type): "


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def never_asked(prompt: str) -> str:
    raise AssertionError("asked for the token")


def test_without_token_a_terminal_is_asked_in_its_language(
    capsys: pytest.CaptureFixture[str],
) -> None:
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return f"  {TOKEN} \n"

    assert cli.read_token(None, "es", stdin=Terminal(), ask=ask) == TOKEN
    assert prompts == [gettext_for("es").gettext(PROMPT)]
    assert capsys.readouterr().err == ""  # no warning: nothing was on the command line


def test_an_empty_answer_or_end_of_input_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.read_token(None, "en", stdin=Terminal(), ask=lambda prompt: "   ") is None
    assert "No enrolment token was typed" in capsys.readouterr().err

    def closed(prompt: str) -> str:
        raise EOFError

    assert cli.read_token(None, "en", stdin=Terminal(), ask=closed) is None


def test_without_token_and_without_a_terminal_it_says_how(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.read_token(None, "en", stdin=io.StringIO(TOKEN + "\n"), ask=never_asked) is None
    err = capsys.readouterr().err
    assert "--token -" in err and "terminal" in err


def test_dash_reads_one_line_of_standard_input(capsys: pytest.CaptureFixture[str]) -> None:
    stdin = io.StringIO(f"{TOKEN}\nsomething else\n")
    assert cli.read_token("-", "en", stdin=stdin, ask=never_asked) == TOKEN
    assert stdin.read() == "something else\n"  # only the first line is the token's
    assert capsys.readouterr().err == ""
    assert cli.read_token("-", "en", stdin=io.StringIO(""), ask=never_asked) is None
    assert "No enrolment token on standard input" in capsys.readouterr().err


def test_dash_reads_a_bounded_line() -> None:
    flood = io.StringIO("x" * 100_000)
    token = cli.read_token("-", "en", stdin=flood, ask=never_asked)
    assert token is not None and len(token) == cli.TOKEN_LINE_LIMIT  # enrol.py then refuses its format


def test_a_token_in_argv_still_works_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.read_token(TOKEN, "en", stdin=Terminal(), ask=never_asked) == TOKEN
    err = capsys.readouterr().err
    assert "other users of this computer" in err and "--token -" in err
    assert TOKEN not in err  # the warning does not repeat the secret


def test_enrol_without_a_token_stops_before_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code = cli.main(
        [
            "enrol",
            "--server",
            "https://support.example",
            "--state-dir",
            str(tmp_path),
            "--lang",
            "en",
            "--no-start",
        ]
    )
    assert code == 2
    assert "No enrolment token" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # no key made, nothing spent
