"""A crash of the agent: one sentence on the terminal, the traceback in its log file."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from veo.agent import main as agent_main
from veo.agent.logs import default_log_path, setup_logging


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)


def _boom(*_args: object) -> int:
    raise RuntimeError("boom in the agent")


def test_a_crash_prints_one_sentence_and_logs_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(agent_main, "run_agent", _boom)
    code = agent_main.main(["--server", "https://support.example", "--code", "123456789", "--lang", "en"])
    assert code == 1
    err = capsys.readouterr().err
    log_file = tmp_path / "state" / "veo" / "agent.log"
    assert default_log_path() == log_file
    assert "Traceback" not in err and "RuntimeError" not in err
    assert (
        f"veo agent stopped because of an unexpected problem. The details for your support department "
        f"are in {log_file}." in err
    )
    logged = log_file.read_text()
    assert "Traceback (most recent call last)" in logged and "RuntimeError: boom in the agent" in logged


def test_the_sentence_is_in_the_users_language(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(agent_main, "run_agent", _boom)
    log = tmp_path / "mine.log"
    args = ["--server", "https://support.example", "--lang", "es", "--log-file", str(log)]
    assert agent_main.main(args) == 1
    err = capsys.readouterr().err
    assert (
        "veo agent se detuvo por un problema inesperado. "
        f"Los detalles para su departamento de soporte están en {log}." in err
    )
    assert "Traceback" in log.read_text()


def test_logged_failures_keep_their_traceback_off_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = setup_logging(str(tmp_path / "a.log"), verbose=False)
    try:
        raise ValueError("ICE username fragment or password is missing")
    except ValueError:
        logging.getLogger("veo.agent.session").exception("WebRTC negotiation failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    err = capsys.readouterr().err
    assert "WebRTC negotiation failed (details in the log file)" in err
    assert "Traceback" not in err
    assert path is not None and "Traceback" in path.read_text()


def test_a_crash_in_a_real_process(tmp_path: Path) -> None:
    """The whole process: what a user running ``veo agent`` in a terminal would see."""
    script = (
        "import sys\n"
        "from veo.agent import main as m\n"
        "def boom(*a):\n"
        "    raise KeyError('no such thing')\n"
        "m.run_agent = boom\n"
        "sys.exit(m.main(['--server', 'https://support.example', '--lang', 'en']))\n"
    )
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "KeyError" not in done.stderr
    assert "The details for your support department are in" in done.stderr
    assert "KeyError: 'no such thing'" in (tmp_path / "state" / "veo" / "agent.log").read_text()


def test_help_says_where_the_log_is(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # argparse would break the path across lines
    with pytest.raises(SystemExit):
        agent_main.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"instead of {tmp_path / 'state' / 'veo' / 'agent.log'}" in out


def test_ctrl_c_before_the_windows_is_quiet(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(agent_main, "run_agent", interrupted)
    assert agent_main.main(["--server", "https://support.example", "--lang", "en"]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_a_traceback_inside_a_message_stays_off_the_terminal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """aiortc's sender logs ``traceback.format_exc()`` as a warning's text, not as exc_info."""
    log_file = tmp_path / "agent.log"
    setup_logging(str(log_file), verbose=False)
    text = 'RTCRtpsender(video) Traceback (most recent call last):\n  File "x.py", line 1\nOSError: closed'
    logging.getLogger("aiortc.rtcrtpsender").warning(text)
    err = capsys.readouterr().err
    assert "RTCRtpsender(video) Traceback (most recent call last): (details in the log file)" in err
    assert "File " not in err and "OSError" not in err
    assert "OSError: closed" in log_file.read_text()


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "Cannot open a window: this terminal has no graphical display (DISPLAY is not set)."),
        (
            "es",
            "No se puede abrir una ventana: esta terminal no tiene pantalla gráfica (DISPLAY no está",
        ),
    ],
)
def test_no_display_is_one_sentence_in_the_users_language(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], language: str, said: str
) -> None:
    """Tk's own error ("no display name and no $DISPLAY environment variable") is English, names no remedy."""
    monkeypatch.delenv("DISPLAY", raising=False)
    code = agent_main.main(["--server", "http://127.0.0.1:9", "--code", "123456789", "--lang", language])
    err = capsys.readouterr().err
    assert code == 1
    assert said in err and "$DISPLAY environment" not in err
