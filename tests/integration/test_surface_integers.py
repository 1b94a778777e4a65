"""Every integer a client can send is bounded in the schema, and odd numbers never make a 5xx.

The routes come from the app's own table (``tests/route_table.py``): each path, query and form
parameter and each field of a JSON body, nested models and lists included. Two sweeps:

* statically, every integer among them declares both a lower and an upper bound (the aliases
  of ``veo.server.api.params``), so a route added later cannot take an unbounded id;
* over HTTP, every such parameter of every route, one at a time, gets 2**63, 2**64, -2**63-1,
  2**31, -1, 0 and a 40-digit number, from an administrator with a bearer token (so neither a
  role nor CSRF stops the request first), and no answer is a 5xx. Before the bounds, 2**63 in
  an attachment's ticket id, the outbox's ``ticket_id`` and ``offset``, a webhook's or an outbox
  message's id made SQLite's driver raise ``OverflowError``.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from tests.integration.notify_support import bearer
from tests.route_table import endpoints, fill

from veo.config import Settings

ODD = (2**63, 2**64, -(2**63) - 1, 2**31, -1, 0, 10**40)
SESSION_ID = "0f3c2a9e-1111-4222-8333-444455556666"
LOWER = (annotated_types.Ge, annotated_types.Gt)
UPPER = (annotated_types.Le, annotated_types.Lt)


def _constraints(metadata: list[Any]) -> list[Any]:
    found: list[Any] = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            found.extend(_constraints(item.metadata))
        elif isinstance(item, annotated_types.GroupedMetadata):
            found.extend(item)
        else:
            found.append(item)
    return found


def unbounded(annotation: Any, metadata: list[Any], where: str) -> Iterator[str]:
    """The places under ``annotation`` where an ``int`` lacks a lower or an upper bound."""
    constraints = _constraints(metadata)
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        yield from unbounded(inner, [*constraints, *extra], where)
    elif origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            yield from unbounded(arg, constraints, where)
    elif origin in (list, set, frozenset, tuple):
        for arg in get_args(annotation):
            if arg is not Ellipsis:
                yield from unbounded(arg, [], f"{where}[]")
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            yield from unbounded(field.annotation, [field], f"{where}.{name}")
    elif annotation is int:
        has_lower = any(isinstance(c, LOWER) for c in constraints)
        has_upper = any(isinstance(c, UPPER) for c in constraints)
        if not (has_lower and has_upper):
            yield where


@dataclass(frozen=True)
class IntParam:
    kind: str  # path, query, form or json
    name: str
    listed: bool = False  # a list of integers (send [value])


def _params(dependant: Dependant) -> Iterator[tuple[str, Any]]:
    for kind in ("path_params", "query_params", "body_params"):
        for param in getattr(dependant, kind):
            yield kind.removesuffix("_params"), param
    for sub in dependant.dependencies:
        yield from _params(sub)


def _is_form(param: Any) -> bool:
    return type(param.field_info).__name__ in ("Form", "File")


def int_params(dependant: Dependant, label: str) -> tuple[list[IntParam], list[str]]:
    """The route's integer parameters, and the places where one is unbounded."""
    found: list[IntParam] = []
    missing: list[str] = []
    for kind, param in _params(dependant):
        info = param.field_info
        place = f"{label} {kind} {param.name}"
        missing.extend(unbounded(info.annotation, [info], place))
        annotation = info.annotation
        sent_as = ("form" if _is_form(param) else "json") if kind == "body" else kind
        model = _model(annotation)
        if model is not None:  # a JSON body, or a model of query parameters: one per field
            for name, field in model.model_fields.items():
                if _is_int(field.annotation):
                    found.append(IntParam(sent_as, field.alias or name, listed=_is_list(field.annotation)))
        elif _is_int(annotation):
            found.append(IntParam(sent_as, param.alias or param.name, listed=_is_list(annotation)))
    return found, missing


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _model(annotation: Any) -> type[BaseModel] | None:
    annotation = _strip(annotation)
    for arg in (annotation, *get_args(annotation)):
        arg = _strip(arg)
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _is_int(annotation: Any) -> bool:
    annotation = _strip(annotation)
    if annotation is int:
        return True
    return any(_is_int(arg) for arg in get_args(annotation) if arg is not Ellipsis)


def _is_list(annotation: Any) -> bool:
    annotation = _strip(annotation)
    if get_origin(annotation) in (list, set, frozenset, tuple):
        return True
    return any(_is_list(arg) for arg in get_args(annotation))


def _routes(app: FastAPI) -> Iterator[tuple[str, str, list[IntParam], list[str]]]:
    for endpoint in endpoints(app):
        if endpoint.route is None:
            continue
        for method in sorted(endpoint.methods - {"HEAD"}):
            params, missing = int_params(endpoint.route.dependant, f"{method} {endpoint.path}")
            yield method, endpoint.path, params, missing


def test_every_integer_parameter_is_bounded(tmp_path: Path) -> None:
    from veo.server.app import create_app

    app = create_app(Settings(data_dir=tmp_path))
    routes = list(_routes(app))
    missing = [place for _m, _p, _params, places in routes for place in places]
    assert missing == [], "integers without a lower and an upper bound:\n" + "\n".join(missing)
    counted = sum(len(params) for _m, _p, params, _places in routes)
    assert counted >= 25, "the sweep does not see the app's integer parameters"


def test_the_bound_check_sees_an_unbounded_integer() -> None:
    """The checker itself works: plain ints, optional ones and ints in lists and models."""

    class Body(BaseModel):
        ok: Annotated[int, annotated_types.Ge(1), annotated_types.Le(9)]
        ids: list[int]

    assert list(unbounded(int, [], "a")) == ["a"]
    assert list(unbounded(int | None, [], "b")) == ["b"]
    assert list(unbounded(Body, [], "c")) == ["c.ids[]"]
    assert list(unbounded(Annotated[int, annotated_types.Ge(0)], [], "d")) == ["d"]
    assert list(unbounded(Annotated[int, annotated_types.Interval(ge=0, le=5)], [], "e")) == []


async def test_odd_integers_never_make_a_server_error(app: FastAPI, client: httpx.AsyncClient) -> None:
    auth = bearer(app, "numbers-admin@example.org", role="admin")
    failures: list[str] = []
    sent = 0
    for method, template, params, _missing in _routes(app):
        for param in params:
            for value in ODD:
                values = {"session_id": SESSION_ID, "role": "technician", "token": "x" * 43}
                query: dict[str, str] = {}
                form: dict[str, Any] | None = None
                body: dict[str, Any] | None = None
                text = str(value)
                if param.kind == "path":
                    values[param.name] = text
                elif param.kind == "query":
                    query[param.name] = text
                elif param.kind == "form":
                    form = {param.name: [text] if param.listed else text}
                else:
                    body = {param.name: [value] if param.listed else value}
                path = fill(template, values)
                if template == "/api/v1/tickets/{ticket_id}/attachments" and method == "POST":
                    query.setdefault("name", "a.txt")
                response = await client.request(
                    method,
                    path,
                    params=query,
                    data=form,
                    json=body,
                    headers={**auth, "accept": "text/html" if not path.startswith("/api/") else "*/*"},
                )
                sent += 1
                if response.status_code >= 500:
                    failures.append(
                        f"{method} {template} {param.kind} {param.name}={text} -> {response.status_code}"
                    )
    print(f"odd integers: {sent} requests")
    assert sent >= 25 * len(ODD)
    assert failures == [], "server errors:\n" + "\n".join(failures)
