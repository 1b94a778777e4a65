"""``/admin/categories``: the page where admins and leads keep the list of categories."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from veo.server.addresses import client_address
from veo.server.auth.deps import CurrentUser
from veo.server.categories import service
from veo.server.categories.schemas import CategoryId
from veo.server.db.deps import DatabaseDep
from veo.server.errors import InvalidInput
from veo.server.sessions import txn
from veo.server.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = "/admin/categories"


async def _show(
    request: Request,
    db: DatabaseDep,
    *,
    errors: dict[str, str] | None = None,
    value: str = "",
    status: int = 200,
) -> Response:
    categories = await db.run(service.all_categories)
    context = {"categories": categories, "errors": errors or {}, "value": value}
    return await render(request, "tickets/categories.html", context, status_code=status)


@router.get(PAGE)
async def categories_page(request: Request, user: CurrentUser, db: DatabaseDep) -> Response:
    service.require_manager(user)
    return await _show(request, db)


@router.post(PAGE)
async def add_category(
    request: Request, user: CurrentUser, db: DatabaseDep, name: Annotated[str, Form(max_length=10000)] = ""
) -> Response:
    address = client_address(request)
    try:
        await txn.run(db, lambda s: service.create_category(s, name, actor=user, address=address))
    except InvalidInput as exc:
        return await _show(request, db, errors=exc.fields, value=name, status=422)
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/{category_id}/rename")
async def rename_category(
    request: Request,
    category_id: CategoryId,
    user: CurrentUser,
    db: DatabaseDep,
    name: Annotated[str, Form(max_length=10000)] = "",
) -> Response:
    address = client_address(request)
    try:
        await txn.run(
            db, lambda s: service.rename_category(s, category_id, name, actor=user, address=address)
        )
    except InvalidInput as exc:
        errors = {f"rename-{category_id}": exc.fields["name"]}
        return await _show(request, db, errors=errors, status=422)
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/{category_id}/delete")
async def delete_category(
    request: Request, category_id: CategoryId, user: CurrentUser, db: DatabaseDep
) -> Response:
    address = client_address(request)
    await txn.run(db, lambda s: service.delete_category(s, category_id, actor=user, address=address))
    return RedirectResponse(PAGE, status_code=303)
