"""Where the agent writes what happened, and what a crash looks like to the person at the keyboard.

The log always goes to a file the user can hand to their support department:
``$XDG_STATE_HOME/veo/agent.log`` (``~/.local/state/veo/agent.log``, kept to a few megabytes),
or the ``--log-file`` given. The terminal gets the same events one line each, but never a Python
traceback: those go to the file only (``--verbose`` shows them on the terminal too). Whatever
escapes the program -- on the main thread, another thread, or a window's callback -- is logged
with its traceback to the file, and the terminal gets one sentence saying what happened and
where the details are (:func:`crash_sentence`).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from veo.i18n import gettext_for

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
MAX_LOG_BYTES = 2 * 1024 * 1024
KEPT_LOGS = 2

log = logging.getLogger("veo.agent")


def default_log_path() -> Path:
    """``$XDG_STATE_HOME/veo/agent.log``, ``~/.local/state/veo/agent.log`` without it."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "veo" / "agent.log"


class TerminalFormatter(logging.Formatter):
    """One line per event: the traceback of a failure stays in the file (``details in the log``)."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        failed = bool(record.exc_info or record.exc_text)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            line = super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
        # a library may put the traceback in the message itself (aiortc's sender logs
        # traceback.format_exc() as a warning): the terminal keeps its first line only
        first, newline, _rest = line.partition("\n")
        return first + " (details in the log file)" if failed or newline else first


def setup_logging(log_file: str | None, verbose: bool) -> Path | None:
    """Log to stderr (one line per event, the end-to-end tests read them) and to a file.

    Returns the file's path, or ``None`` when it could not be opened (said on stderr once).
    """
    terminal = logging.StreamHandler(sys.stderr)
    terminal.setFormatter(logging.Formatter(LOG_FORMAT) if verbose else TerminalFormatter(LOG_FORMAT))
    handlers: list[logging.Handler] = [terminal]
    path = Path(log_file) if log_file else default_log_path()
    problem: str | None = None
    try:
        if log_file:
            handlers.append(logging.FileHandler(path, encoding="utf-8"))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(
                logging.handlers.RotatingFileHandler(
                    path, maxBytes=MAX_LOG_BYTES, backupCount=KEPT_LOGS, encoding="utf-8"
                )
            )
        handlers[-1].setFormatter(logging.Formatter(LOG_FORMAT))
    except OSError as exc:
        problem = exc.strerror or str(exc)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=handlers, force=True)
    if not verbose:
        for noisy in ("aiortc", "aioice", "websockets", "PIL"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if problem is not None:
        log.warning("cannot write the log file %s: %s", path, problem)
        return None
    return path


def crash_sentence(language: str, log_path: Path | None) -> str:
    """What the terminal says when the agent stops on an unexpected error: one sentence, no traceback."""
    _ = gettext_for(language).gettext
    if log_path is None:
        return _(
            "veo agent stopped because of an unexpected problem. "
            "Run it again with --verbose to see the details."
        )
    return _(
        "veo agent stopped because of an unexpected problem. The details for your support department "
        "are in {path}."
    ).format(path=log_path)


def report_crash(
    language: str,
    log_path: Path | None,
    error: tuple[type[BaseException], BaseException, TracebackType | None],
) -> None:
    """Log the traceback (file) and say one sentence (terminal)."""
    log.critical("the agent stopped on an unexpected error", exc_info=error)
    print(crash_sentence(language, log_path), file=sys.stderr, flush=True)


def install_crash_handlers(language: str, log_path: Path | None) -> Callable[..., None]:
    """Route uncaught exceptions (any thread) to :func:`report_crash`; returns the handler for Tk.

    Tk prints a callback's traceback on stderr by default: give the returned function to
    ``root.report_callback_exception``. A window callback failing does not stop the agent, so it
    is logged (file: traceback; terminal: one line) rather than reported as a crash.
    """

    def on_main(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            return
        report_crash(language, log_path, (kind, value, tb))

    def on_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "?"
        log.error("thread %s failed", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    def on_tk(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        log.error("a window action failed", exc_info=(kind, value, tb))

    sys.excepthook = on_main
    threading.excepthook = on_thread
    return on_tk
