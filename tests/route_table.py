"""The app's route table with FastAPI's included routers expanded, for tests that sweep it.

A test that walks every route (who may call it, which ones need a CSRF token, which integer
parameters must be bounded) covers a route added later without being touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Mount, Route

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Endpoint:
    path: str
    methods: frozenset[str]
    websocket: bool = False
    #: The FastAPI route behind it (None for plain Starlette routes, mounts and WebSockets).
    route: APIRoute | None = field(default=None, compare=False)


def endpoints(app: FastAPI) -> Iterator[Endpoint]:
    """Every route of the app, with FastAPI's included routers expanded."""
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for ctx in contexts():
                original = ctx.original_route
                if isinstance(original, APIWebSocketRoute):
                    yield Endpoint(original.path, frozenset(), websocket=True)
                else:
                    api = original if isinstance(original, APIRoute) else None
                    yield Endpoint(ctx.path, frozenset(ctx.methods or ()), route=api)
        elif isinstance(route, APIWebSocketRoute):
            yield Endpoint(route.path, frozenset(), websocket=True)
        elif isinstance(route, APIRoute):
            yield Endpoint(route.path, frozenset(route.methods or ()), route=route)
        elif isinstance(route, Route):
            yield Endpoint(route.path, frozenset(route.methods or ()))
        elif isinstance(route, Mount):
            yield Endpoint(route.path, frozenset({"GET"}))
        else:
            raise AssertionError(f"unknown kind of route {route!r}: teach this test about it")


def fill(template: str, values: dict[str, str], default: str = "1") -> str:
    """``/tickets/{ticket_id}`` with its parameters replaced by ``values`` (else ``default``)."""

    def value(match: re.Match[str]) -> str:
        return values.get(match.group(1), default)

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, template)
