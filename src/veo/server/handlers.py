"""Turn every failure into ``{"code", "message"}`` (or an error page for a browser), never a trace.

Under ``/api/`` and for clients that do not ask for HTML the answer is JSON; a browser on a page
gets the same text in ``error.html``. Validation errors name the bad field so that a program's
author can fix the request without reading server logs.
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

from veo.server.errors import ApiError, LoginRequired, PasswordChangeRequired
from veo.server.lang import _

log = logging.getLogger(__name__)


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

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(exc.next_url, status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def password_change(request: Request, exc: PasswordChangeRequired) -> Response:
        target = request.url.path
        return RedirectResponse("/account/password?next=" + quote(target, safe=""), status_code=303)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        # a browser on a page gets the error page, not a JSON blob (error_response falls back to JSON)
        message = _("Something went wrong on the server; it was logged.")
        return await error_response(request, 500, "internal_error", message)
