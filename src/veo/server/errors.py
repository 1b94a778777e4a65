"""Errors a client may see: a stable ``code`` for programs and a ``message`` for people.

Raise :class:`ApiError` anywhere in a request; the app turns it into JSON ``{"code", "message"}``
under ``/api/v1`` and into an error page elsewhere. Nothing else (no stack trace) reaches a client.
"""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
