"""Errors a client may see: a stable ``code`` for programs and a ``message`` for people.

Raise :class:`ApiError` anywhere in a request; the app turns it into JSON ``{"code", "message"}``
under ``/api/v1`` and into an error page elsewhere. Nothing else (no stack trace) reaches a client.
Services raise these too, so the CLI prints the same message a browser would show.
"""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class InvalidInput(ApiError):
    """Bad user input, one message per field, so a form can show each next to its field.

    The API answers 422 ``invalid_request`` naming the first bad field; ``fields`` keeps them all.
    """

    def __init__(self, fields: dict[str, str]) -> None:
        first, message = next(iter(fields.items()))
        super().__init__(422, "invalid_request", f"{first}: {message}")
        self.fields = fields


class NotFound(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(404, "not_found", message)


class LoginRequired(Exception):
    """A page needs a signed-in technician: the app redirects to ``/login?next=<path>``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class PasswordChangeRequired(Exception):
    """The account must set a new password before anything else (redirect to the form)."""
