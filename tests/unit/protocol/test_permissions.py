"""Effective permissions are the intersection of every layer, and control needs view."""

from __future__ import annotations

from veo.protocol.permissions import Permission, effective_permissions, ordered

V, C, CB, F = Permission.VIEW, Permission.CONTROL, Permission.CLIPBOARD, Permission.FILES


def test_intersection_of_policy_request_and_grant() -> None:
    assert effective_permissions({V, C, CB, F}, {V, C, CB}, {V, C}) == {V, C}


def test_user_unticking_control_removes_it() -> None:
    assert effective_permissions({V, C}, {V}) == {V}


def test_control_without_view_is_meaningless_and_dropped() -> None:
    assert effective_permissions({V, C}, {C}) == frozenset()


def test_strings_from_the_wire_are_accepted() -> None:
    assert effective_permissions(["view", "control"], ["control", "view"]) == {V, C}


def test_order_is_stable_for_display() -> None:
    assert ordered({F, V, C}) == [V, C, F]
