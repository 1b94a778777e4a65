"""The user's local session history: reading the file (damaged lines skipped) and the words shown."""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import asdict, replace
from datetime import UTC, timedelta, timezone
from pathlib import Path

import pytest
from babel import Locale

from veo.agent import history
from veo.agent.history_text import (
    babel_locale,
    duration_text,
    history_text,
    notices,
    summarize,
    when_text,
)
from veo.agent.main import main

ENTRY = history.HistoryEntry(
    started_at="2026-11-24T14:03:10+00:00",
    ended_at="2026-11-24T14:15:40+00:00",
    server="https://support.example",
    session_id="s-1",
    organization="ACME IT",
    technician="Ana",
    ticket_id=12,
    ticket_title="Printer does not print",
    granted=["view", "control"],
    ended_by="user",
    reason="user_stopped",
    allowed_at="2026-11-24T14:03:25.400+00:00",
)
LATER = replace(
    ENTRY,
    started_at="2026-11-25T09:00:00+00:00",
    ended_at="2026-11-25T09:00:40+00:00",
    session_id="s-2",
    technician="Luis",
    ticket_id=13,
    ticket_title="VPN",
    granted=[],
    reason="denied",
    allowed_at="",
)
MEXICO = timezone(timedelta(hours=-6))


@pytest.fixture(autouse=True)
def _neutral_locale(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("LC_ALL", "LC_TIME", "LANG"):
        monkeypatch.delenv(var, raising=False)
    # main() logs to the state directory and installs its crash handlers: keep both inside the test
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)


def _line(entry: history.HistoryEntry, **changes: object) -> str:
    data = asdict(entry)
    data.update(changes)
    return json.dumps(data)


def test_parse_line_accepts_what_the_agent_writes() -> None:
    assert history.parse_line(_line(ENTRY)) == ENTRY
    # a line from a newer agent with more fields is still read
    assert history.parse_line(_line(ENTRY, rating=5)) == ENTRY


@pytest.mark.parametrize(
    "line",
    [
        "",
        "not json",
        '{"started_at": ',
        "[1, 2]",
        "null",
        _line(ENTRY, ticket_id="12"),
        _line(ENTRY, ticket_id=True),
        _line(ENTRY, granted="view"),
        _line(ENTRY, granted=[1]),
        _line(ENTRY, technician=None),
        _line(ENTRY, started_at="yesterday"),
        _line(ENTRY, ended_at=""),
        json.dumps({k: v for k, v in asdict(ENTRY).items() if k != "organization"}),
    ],
)
def test_parse_line_refuses_damaged_lines(line: str) -> None:
    assert history.parse_line(line) is None


def test_read_is_newest_first_and_skips_damaged_lines(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(
        (_line(ENTRY) + "\n").encode()
        + b"\xff\xfe garbage \x00\n"
        + b"\n"
        + (_line(LATER) + "\n").encode()
        + b'{"started_at": "2026-11-26T'  # a write cut short (disk full, power loss)
    )
    read = history.read(path)
    assert [e.session_id for e in read.entries] == ["s-2", "s-1"]
    assert read.skipped == 2 and read.error is None and not read.missing


def test_read_missing_and_unreadable_files_never_raise(tmp_path: Path) -> None:
    missing = history.read(tmp_path / "none.jsonl")
    assert missing.missing and missing.entries == [] and missing.error is None
    unreadable = history.read(tmp_path)  # a directory where the file should be
    assert unreadable.error and unreadable.entries == []


def test_read_keeps_the_newest_lines_of_a_huge_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text("".join(_line(ENTRY, session_id=f"s{i}") + "\n" for i in range(50)))
    monkeypatch.setattr(history, "MAX_READ_BYTES", len(_line(ENTRY)) * 10)
    read = history.read(path)
    assert read.skipped == 0  # the line cut in half at the start is dropped, not counted as damage
    assert {e.session_id for e in read.entries} >= {"s49", "s45"}
    assert "s0" not in {e.session_id for e in read.entries}


def test_dates_in_the_readers_locale_and_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    moment = history.parse_time(ENTRY.started_at)
    assert when_text(moment, Locale.parse("en"), UTC) == "Tuesday, November 24, 2026, 2:03\u202fPM"
    assert when_text(moment, Locale.parse("es"), MEXICO) == "martes, 24 de noviembre de 2026, 8:03"
    monkeypatch.setenv("LANG", "es_MX.UTF-8")
    assert str(babel_locale("es")) == "es_MX"
    assert str(babel_locale("en")) == "en"  # the system speaks another language: plain English
    monkeypatch.setenv("LANG", "C")
    assert str(babel_locale("es")) == "es"


def test_a_time_without_zone_is_utc() -> None:
    assert history.parse_time("2026-11-24T14:03:10") == history.parse_time("2026-11-24T14:03:10+00:00")


@pytest.mark.parametrize(
    ("seconds", "english", "spanish"),
    [
        (0, "0 seconds", "0 segundos"),
        (40, "40 seconds", "40 segundos"),
        (1, "1 second", "1 segundo"),
        (65, "1 minute and 5 seconds", "1 minuto y 5 segundos"),
        (120, "2 minutes", "2 minutos"),
        (750, "12 minutes and 30 seconds", "12 minutos y 30 segundos"),
        (3665, "1 hour and 1 minute", "1 hora y 1 minuto"),
        (7322, "2 hours and 2 minutes", "2 horas y 2 minutos"),
        (3600, "1 hour", "1 hora"),
        (3900, "1 hour and 5 minutes", "1 hora y 5 minutos"),
        (-5, "0 seconds", "0 segundos"),  # a clock set back never shows a negative time
    ],
)
def test_duration(seconds: int, english: str, spanish: str) -> None:
    assert duration_text(seconds, Locale.parse("en")) == english
    assert duration_text(seconds, Locale.parse("es")) == spanish


def test_summary_says_everything_in_plain_words() -> None:
    summary = summarize(ENTRY, "en", UTC)
    assert summary.when == "Tuesday, November 24, 2026, 2:03\u202fPM"
    assert summary.lines == (
        "Organization: ACME IT",
        "Technician: Ana",
        "Ticket #12: Printer does not print",
        "The technician could: see your screen and control your mouse and keyboard",
        "How long: 12 minutes and 14 seconds",
        "Ended by: you",
    )
    denied = summarize(LATER, "en", UTC).lines
    assert "The technician could: nothing (you said no to the request)" in denied
    assert "How long: the session did not start" in denied


@pytest.mark.parametrize(
    ("by", "reason", "said"),
    [
        ("technician", "ended", "Ended by: the technician"),
        ("system", "connection_lost", "Ended by: the connection was lost"),
        ("system", "capture_failed", "Ended by: a problem on this computer"),
        ("system", "codec_unsupported_h264", "Ended by: the technician's browser could not play the video"),
        ("user", "hotkey", "Ended by: you, with the keys Ctrl+Alt+Shift+End"),
        ("system", "sas_mismatch_user", "Ended by: stopped for your safety: the verification codes"),
    ],
)
def test_who_ended_it(by: str, reason: str, said: str) -> None:
    lines = summarize(replace(ENTRY, ended_by=by, reason=reason), "en", UTC).lines
    assert lines[-1].startswith(said)


def test_spanish_summary() -> None:
    summary = summarize(ENTRY, "es", MEXICO)
    assert summary.when == "martes, 24 de noviembre de 2026, 8:03"
    assert summary.lines[0] == "Organización: ACME IT"
    assert "ver su pantalla y controlar su ratón y su teclado" in summary.lines[3]
    assert summary.lines[4] == "Duración: 12 minutos y 14 segundos"
    assert summary.lines[5] == "Finalizada por: usted"


def test_notices() -> None:
    assert notices(history.HistoryRead(missing=True), "en") == [
        "No remote support sessions have been recorded on this computer yet."
    ]
    assert notices(history.HistoryRead(entries=[ENTRY]), "en") == []
    assert notices(history.HistoryRead(entries=[ENTRY], skipped=1), "en") == [
        "1 damaged line of the history file was skipped."
    ]
    assert notices(history.HistoryRead(skipped=3), "es") == [
        "Se omitieron 3 líneas dañadas del archivo de historial."
    ]
    said = notices(history.HistoryRead(error="Permission denied"), "en")
    assert said == ["The session history on this computer could not be read (Permission denied)."]


def test_history_text_newest_first() -> None:
    text = history_text(history.HistoryRead(entries=[LATER, ENTRY], skipped=1), "en", UTC)
    assert text.index("Luis") < text.index("Ana")
    assert "1 damaged line" in text and "Printer does not print" in text


def test_command_prints_the_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(_line(ENTRY) + "\nbroken\n" + _line(LATER) + "\n")
    monkeypatch.setenv("VEO_AGENT_HISTORY", str(path))
    assert main(["--history", "--print", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Technician: Ana" in out and "Technician: Luis" in out and "1 damaged line" in out
    assert out.index("Luis") < out.index("Ana")
    assert main(["--history", "--print", "--lang", "es"]) == 0
    assert "Sesiones de asistencia remota anteriores" in capsys.readouterr().out


def test_command_with_no_or_unreadable_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VEO_AGENT_HISTORY", str(tmp_path / "none.jsonl"))
    assert main(["--history", "--print", "--lang", "en"]) == 0
    assert "No remote support sessions have been recorded" in capsys.readouterr().out
    monkeypatch.setenv("VEO_AGENT_HISTORY", str(tmp_path))
    assert main(["--history", "--print", "--lang", "en"]) == 0
    captured = capsys.readouterr()
    assert "could not be read" in captured.out and "Traceback" not in captured.err


def test_command_line_rules(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as no_server:
        main(["--lang", "en"])
    assert no_server.value.code == 2 and "--server is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as lone_print:
        main(["--print", "--server", "https://support.example", "--lang", "en"])
    assert lone_print.value.code == 2 and "--print goes with --history" in capsys.readouterr().err


def test_no_display_says_how_to_print(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISPLAY", "")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["--history", "--lang", "en"]) == 1
    assert "--history --print" in capsys.readouterr().err


def test_stop_keys_as_a_spanish_keyboard_prints_them() -> None:
    lines = summarize(replace(ENTRY, reason="hotkey"), "es", UTC).lines
    assert lines[-1] == "Finalizada por: usted, con las teclas Ctrl+Alt+Mayús+Fin"


@pytest.mark.parametrize(
    ("allowed_at", "ended_at"),
    [
        ("2026-11-24T14:03:25.400+00:00", "2026-11-24T14:15:40.100+00:00"),
        ("2026-11-24T14:03:25.900+00:00", "2026-11-24T14:03:26.899+00:00"),
        ("2026-11-24T23:59:59.999+00:00", "2026-11-25T01:00:00.000+00:00"),
    ],
)
def test_history_duration_follows_the_servers_rule(allowed_at: str, ended_at: str) -> None:
    """Allow -> end in whole seconds, cut down: what ``RemoteSession.duration_seconds`` gives for the
    same moments (the server stamps ``started_at`` at consent and ``ended_at`` at the end)."""
    from veo.server.sessions.models import RemoteSession

    entry = replace(ENTRY, allowed_at=allowed_at, ended_at=ended_at)
    server = RemoteSession(started_at=history.parse_time(allowed_at), ended_at=history.parse_time(ended_at))
    assert history.duration_seconds(entry) == server.duration_seconds
    assert history.duration_seconds(replace(entry, granted=[], allowed_at="")) is None  # never allowed
    server_denied = RemoteSession(started_at=None, ended_at=history.parse_time(ended_at))
    assert server_denied.duration_seconds is None


def test_a_line_from_an_older_agent_still_reads() -> None:
    """Lines written before ``allowed_at`` existed keep their connection time."""
    data = asdict(ENTRY)
    del data["allowed_at"]
    entry = history.parse_line(json.dumps(data))
    assert entry is not None and entry.allowed_at == ""
    assert history.duration_seconds(entry) == 750
    assert history.parse_line(_line(ENTRY, allowed_at=5)) is None
    assert history.parse_line(_line(ENTRY, allowed_at="yesterday")) is None
