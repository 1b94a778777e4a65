"""``/api/v1/categories``: read the list (any technician), change it (admins and leads)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from veo.server.addresses import client_address
from veo.server.api.schemas import error_responses
from veo.server.auth.deps import CurrentUser
from veo.server.categories import service
from veo.server.categories.schemas import CategoryId, CategoryIn, CategoryOut
from veo.server.db.deps import DatabaseDep
from veo.server.sessions import txn

router = APIRouter(
    prefix="/api/v1/categories", tags=["categories"], responses=error_responses(401, 403, 404, 413, 422)
)


@router.get("", response_model=list[CategoryOut])
async def list_categories(user: CurrentUser, db: DatabaseDep) -> list[CategoryOut]:
    categories = await db.run(service.all_categories)
    return [CategoryOut.model_validate(c) for c in categories]


@router.post("", response_model=CategoryOut, status_code=201)
async def create_category(
    body: CategoryIn, request: Request, user: CurrentUser, db: DatabaseDep
) -> CategoryOut:
    address = client_address(request)
    category = await txn.run(db, lambda s: service.create_category(s, body.name, actor=user, address=address))
    return CategoryOut.model_validate(category)


@router.patch("/{category_id}", response_model=CategoryOut)
async def rename_category(
    category_id: CategoryId, body: CategoryIn, request: Request, user: CurrentUser, db: DatabaseDep
) -> CategoryOut:
    address = client_address(request)
    category = await txn.run(
        db, lambda s: service.rename_category(s, category_id, body.name, actor=user, address=address)
    )
    return CategoryOut.model_validate(category)


@router.delete("/{category_id}", status_code=204, response_class=Response)
async def delete_category(
    category_id: CategoryId, request: Request, user: CurrentUser, db: DatabaseDep
) -> Response:
    """Tickets in the category become uncategorized."""
    address = client_address(request)
    await txn.run(db, lambda s: service.delete_category(s, category_id, actor=user, address=address))
    return Response(status_code=204)
