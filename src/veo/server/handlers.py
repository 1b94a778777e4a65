"""Turn every failure into ``{"code", "message"}`` (or an error page for a browser), never a trace.

Under ``/api/`` and for clients that do not ask for HTML the answer is JSON; a browser on a page
gets the same text in ``error.html``. Validation errors name the bad field so that a program's
author can fix the request without reading server logs.

A database that is down or restarting (``veo.server.db.unavailable``) is answered 503
``database_unavailable`` with ``Retry-After``, not 500: a page without asking the database who is
signed in (it could not answer), a WebSocket by closing with 1013 "try again later". It is caught
twice: by its own handler for routes, and by the catch-all, which also sees what middleware and
dependencies outside the routes raise.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketState

from veo.server.auth.deps import Identity
from veo.server.db.unavailable import UNAVAILABLE_ERRORS, first_line, is_unavailable
from veo.server.errors import ApiError, LoginRequired, PasswordChangeRequired
from veo.server.lang import _

log = logging.getLogger(__name__)
#: Seconds a client is asked to wait while the database is unavailable (a restart takes a few).
RETRY_AFTER_SECONDS = 5
#: WebSocket close code 1013, "Try Again Later" (RFC 6455 registry): the server cannot serve now.
CLOSE_TRY_AGAIN_LATER = 1013


def _status_messages() -> dict[int, tuple[str, str]]:
    return {
        400: ("bad_request", _("The request could not be understood.")),
        401: ("not_authenticated", _("Sign in or send a valid bearer token.")),
        403: ("forbidden", _("You are not allowed to do this.")),
        404: ("not_found", _("There is nothing at this address.")),
        405: ("method_not_allowed", _("This address does not accept that method.")),
        413: ("request_too_large", _("The request body is larger than 1 MiB.")),
        429: ("too_many_requests", _("Too many attempts; wait a moment and try again.")),
    }


def wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


async def error_response(request: Request, status: int, code: str, message: str) -> Response:
    if wants_html(request):
        from veo.server.web.templating import render

        try:
            return await render(request, "error.html", {"status": status, "message": message}, status)
        except Exception:
            log.exception("could not render the error page; answering JSON")
    return JSONResponse({"code": code, "message": message}, status_code=status)


async def database_unavailable(connection: HTTPConnection, exc: Exception) -> Response | None:
    """503 ``database_unavailable``: JSON, a page that needs no database, or a closed WebSocket.

    Registered for the classes that may mean it; one that does not (a deadlock, a statement
    timeout, a full disk: :func:`is_unavailable`) is an internal error with its trace logged.
    """
    if not is_unavailable(exc):
        if isinstance(connection, Request):
            return await internal_error(connection, exc)
        raise exc  # a WebSocket: Starlette closes it with 1011, as for any other failure
    log.warning("database unavailable on %s: %s", connection.url.path, first_line(exc))
    if isinstance(connection, WebSocket):
        await _close_socket(connection)
        return None
    request = connection if isinstance(connection, Request) else Request(connection.scope)
    # The page shows nobody as signed in: finding out who is would need the database.
    request.state.veo_identity = Identity(user=None)
    message = _("The database cannot be reached at the moment; try again in a minute.")
    response = await error_response(request, 503, "database_unavailable", message)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def _close_socket(websocket: WebSocket) -> None:
    """Close with 1013 so the peer retries; a handshake not yet answered is accepted to say so."""
    try:
        if websocket.application_state == WebSocketState.CONNECTING:
            await websocket.accept()
        if websocket.application_state == WebSocketState.CONNECTED:
            await websocket.close(CLOSE_TRY_AGAIN_LATER, "database unavailable")
    except (RuntimeError, OSError):  # the peer is already gone: nothing left to tell it
        log.debug("socket gone before it could be closed", exc_info=True)


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


def describe_validation(errors: Sequence[Any]) -> str:
    first = errors[0] if errors else {}
    field = _field_name(first.get("loc", ()))
    kind = first.get("type", "")
    if kind == "missing":
        problem = _("this field is required")
    elif kind in ("json_invalid", "model_attributes_type", "dict_type"):
        problem = _("the body must be a JSON object")
    else:
        problem = str(first.get("msg", _("invalid value")))
    return _("Invalid %(field)s: %(problem)s.") % {"field": field, "problem": problem}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return await error_response(request, exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return await error_response(request, 422, "invalid_request", describe_validation(exc.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        code, message = _status_messages().get(exc.status_code, ("error", _("The request failed.")))
        response = await error_response(request, exc.status_code, code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(DataError)
    async def unstorable(request: Request, exc: DataError) -> Response:
        # The database refused a value the request carried (PostgreSQL holds no NUL in text, for
        # one): the client's input, not a server fault, whichever route let it through. Logged
        # with its trace, in case a value of the server's own ever lands here.
        log.warning("database refused a value on %s %s", request.method, request.url.path, exc_info=exc)
        message = _("The request holds a value that cannot be stored, such as a NUL character.")
        return await error_response(request, 422, "invalid_request", message)

    for unavailable in UNAVAILABLE_ERRORS:  # the classes that may be it: the handler decides
        app.add_exception_handler(unavailable, database_unavailable)  # type: ignore[arg-type]

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(exc.next_url, status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def password_change(request: Request, exc: PasswordChangeRequired) -> Response:
        target = request.url.path
        return RedirectResponse("/account/password?next=" + quote(target, safe=""), status_code=303)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        if is_unavailable(exc):  # raised outside the routes (middleware), so not seen above
            response = await database_unavailable(request, exc)
            assert response is not None
            return response
        return await internal_error(request, exc)


async def internal_error(request: Request, exc: Exception) -> Response:
    """500 ``internal_error`` with the trace in the log (never in the answer)."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    # a browser on a page gets the error page, not a JSON blob (error_response falls back to JSON)
    message = _("Something went wrong on the server; it was logged.")
    return await error_response(request, 500, "internal_error", message)
