"""Categories: list, add, rename and remove them; only admins and leads may change the list.

Removing a category leaves its tickets uncategorized (the foreign key sets NULL) rather than
deleting history; the audit log keeps the name it had.

Names are unique regardless of case, compared here in Python (:func:`name_key`: NFKC, then
``casefold``) rather than with SQL's ``lower()``, which on SQLite folds only ASCII: "Ölfilter"
and "ölfilter" are one name on both databases, and a second "Ölfilter" is a 422 that says so
instead of the unique constraint's ``IntegrityError``.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.server.api.params import printable
from veo.server.audit.service import record
from veo.server.auth.models import User
from veo.server.errors import ApiError, InvalidInput, NotFound
from veo.server.lang import _
from veo.server.tickets.models import Category

MANAGERS = frozenset({"admin", "lead"})


def require_manager(user: User) -> None:
    if user.role not in MANAGERS:
        raise ApiError(403, "forbidden", _("Only administrators and leads may change the categories."))


def name_key(name: str) -> str:
    """What two names must share to be the same category: compatibility form, any case."""
    return unicodedata.normalize("NFKC", name).casefold()


def _alphabetical(category: Category) -> tuple[str, str, int]:
    """Letters first without their accents ("Ärger" among the a's, not after z), then exactly."""
    key = name_key(category.name)
    letters = "".join(c for c in unicodedata.normalize("NFKD", key) if not unicodedata.combining(c))
    return letters, key, category.id


def all_categories(db: Session) -> list[Category]:
    """Every category in alphabetical order, any case (the list is short: an admin writes it)."""
    return sorted(db.scalars(select(Category)), key=_alphabetical)


def get_category(db: Session, category_id: int) -> Category:
    category = db.get(Category, category_id)
    if category is None:
        raise NotFound(_("Category %(id)d does not exist.") % {"id": category_id})
    return category


def _clean_name(db: Session, raw: object, *, except_id: int | None = None) -> str:
    if not isinstance(raw, str) or not 1 <= len(raw.strip()) <= 100:
        raise InvalidInput({"name": _("Enter a name of 1 to 100 characters.")})
    if not printable(raw):  # PostgreSQL cannot store a NUL; no name needs a control character
        raise InvalidInput({"name": _("The name contains characters that cannot be stored.")})
    name = unicodedata.normalize("NFC", " ".join(raw.split()))
    key = name_key(name)
    others = db.scalars(select(Category))  # membership only: no need for all_categories' order
    if any(name_key(other.name) == key and other.id != except_id for other in others):
        raise InvalidInput({"name": _("A category with this name already exists.")})
    return name


def create_category(db: Session, name: object, *, actor: User, address: str = "") -> Category:
    require_manager(actor)
    category = Category(name=_clean_name(db, name))
    db.add(category)
    db.flush()
    record(
        db,
        "category.created",
        actor=actor.email,
        address=address,
        details={"id": category.id, "name": category.name},
    )
    return category


def rename_category(
    db: Session, category_id: int, name: object, *, actor: User, address: str = ""
) -> Category:
    require_manager(actor)
    category = get_category(db, category_id)
    new_name = _clean_name(db, name, except_id=category.id)
    if new_name != category.name:
        details = {"id": category.id, "from": category.name, "to": new_name}
        category.name = new_name
        record(db, "category.renamed", actor=actor.email, address=address, details=details)
    db.flush()
    return category


def delete_category(db: Session, category_id: int, *, actor: User, address: str = "") -> None:
    require_manager(actor)
    category = get_category(db, category_id)
    record(
        db,
        "category.deleted",
        actor=actor.email,
        address=address,
        details={"id": category.id, "name": category.name},
    )
    db.delete(category)
    db.flush()
