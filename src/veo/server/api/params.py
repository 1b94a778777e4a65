"""The integers and search texts a client may send, bounded once for every route and form.

Every id column is a 32-bit ``INTEGER`` (PostgreSQL's ``integer``, and what SQLite's rowids reach
in practice), so a larger number names no row. Unbounded, such a number is not merely "not
found": from 2**63 on SQLite's driver raises ``OverflowError`` before the query runs, a 500. So
every path, query and form parameter and every body field that carries an id is one of these
aliases, which FastAPI and pydantic check before the route runs (a clean 422 naming the field),
and which the OpenAPI schema shows as ``minimum``/``maximum``.

One ``Field`` serves every place: ``ticket_id: RowId`` in a route whose path holds
``{ticket_id}`` is a path parameter, ``ticket_id: RowId | None = None`` a query parameter,
``Annotated[RowId, Form()]`` a form field, and a model field a body field.
``tests/integration/test_surface_integers.py`` sweeps the route table for an integer without
bounds and sends each one 2**63, -1 and their kin.

:data:`Printable` does the same for text that only searches or looks something up (the audit
filters, the e-mail a script signs in with): no control characters but tab and line breaks.
PostgreSQL cannot hold a NUL in text at all, and psycopg refused such a value with ``DataError``
(a 500) before the query ran. Text that is stored gets the same rule (:func:`printable`) from its
service, which answers with a sentence a form can show.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

#: The largest id a column holds (2**31 - 1).
MAX_ID = 2**31 - 1
#: A row's id: from 1 to :data:`MAX_ID`.
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
#: How many rows of a list to skip: from 0 to :data:`MAX_ID` (more would skip every row anyway).
Offset = Annotated[int, Field(ge=0, le=MAX_ID)]

#: Text without NUL nor other control characters (tab, line feed and carriage return allowed).
PRINTABLE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Printable = Annotated[str, Field(pattern=PRINTABLE_PATTERN)]


def printable(text: str) -> bool:
    """Whether ``text`` matches :data:`PRINTABLE_PATTERN` (for services that check stored text)."""
    return all(c >= " " or c in "\t\n\r" for c in text) and "\x7f" not in text
