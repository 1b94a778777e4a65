"""Secrets out of Uvicorn's access log: join codes, tokens and passwords in a request's address.

A join link is ``/join?code=123456789`` and a rating link ``/rate/<token>``; Uvicorn writes every
request's path and query string to its access log, so a live code (valid for ten minutes, and
enough to ask for someone's screen) would sit in log files, journald and whatever collects them.
This filter rewrites the address in each access line before any handler sees it: a query
parameter whose name says it is a secret (``code``, ``token``, ``secret``, ``password``, ``key``,
``totp`` anywhere in the name) keeps its name and loses its value, and the token of a rating link
is replaced. Uvicorn logs HTTP requests on ``uvicorn.access`` and WebSocket handshakes on
``uvicorn.error``; both get the filter, and it touches only arguments that are request targets
(they start with ``/``).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
SECRET_NAME = re.compile(r"code|token|secret|passw|key|totp", re.IGNORECASE)
#: Paths whose last segment is itself a credential.
SECRET_PATHS = (re.compile(r"^(/rate/)[^/?#]+"),)
LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact_target(target: str) -> str:
    """``/join?code=123456789&lang=es`` -> ``/join?code=[redacted]&lang=es``."""
    path, sep, query = target.partition("?")
    for pattern in SECRET_PATHS:
        path = pattern.sub(r"\g<1>" + REDACTED, path)
    if not sep:
        return path
    pairs = []
    for pair in query.split("&"):
        name, eq, _value = pair.partition("=")
        pairs.append(f"{name}={REDACTED}" if eq and SECRET_NAME.search(unquote_plus(name)) else pair)
    return f"{path}?{'&'.join(pairs)}"


class RedactSecrets(logging.Filter):
    """Rewrites the request target among a log record's arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_target(arg) if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


def install() -> None:
    """Put the filter on Uvicorn's loggers once per process (each app built calls this)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactSecrets) for existing in logger.filters):
            logger.addFilter(RedactSecrets())
