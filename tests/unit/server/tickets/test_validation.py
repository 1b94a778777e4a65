"""Ticket field rules: every bad field reported at once, with a message a person can act on."""

from __future__ import annotations

import pytest

from veo.server.errors import InvalidInput
from veo.server.tickets.validation import CREATE_FIELDS, EDITABLE, clean, comment_body


def test_create_requires_the_requester_and_title_and_reports_all_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        clean({"priority": "whenever", "channel": "pigeon"}, fields=CREATE_FIELDS)
    assert set(caught.value.fields) == {"title", "requester_name", "requester_email", "priority", "channel"}
    assert "urgent" in caught.value.fields["priority"] and "walk_in" in caught.value.fields["channel"]


def test_values_are_stripped_and_the_address_lowercased() -> None:
    values = {
        "title": "  Printer ",
        "requester_name": "Bob",
        "requester_email": " Bob@Example.ORG ",
        "category_id": "7",
    }
    assert clean(values, fields=CREATE_FIELDS) == {
        "title": "Printer",
        "requester_name": "Bob",
        "requester_email": "bob@example.org",
        "category_id": 7,
    }


@pytest.mark.parametrize("raw", ["abc", "-1", "0", True, 2**40, 1.5])
def test_references_must_be_positive_ids(raw: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean({"assignee_id": raw}, fields=EDITABLE, partial=True)
    assert list(caught.value.fields) == ["assignee_id"]


def test_empty_reference_means_none_and_partial_ignores_absent_fields() -> None:
    assert clean({"category_id": "", "assignee_id": None}, fields=EDITABLE, partial=True) == {
        "category_id": None,
        "assignee_id": None,
    }
    assert clean({}, fields=EDITABLE, partial=True) == {}


def test_non_text_and_too_long_values() -> None:
    with pytest.raises(InvalidInput) as caught:
        clean(
            {"title": 5, "description": "x" * 10001, "requester_department": "d" * 201},
            fields=EDITABLE,
            partial=True,
        )
    assert set(caught.value.fields) == {"title", "description", "requester_department"}


@pytest.mark.parametrize("raw", ["", "   ", "x" * 10001, None, 3])
def test_comment_body_bounds(raw: object) -> None:
    with pytest.raises(InvalidInput):
        comment_body(raw)
