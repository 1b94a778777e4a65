"""The history's wire details: entry ids order as Redis orders them, payloads split at the id."""

from __future__ import annotations

from veo.server.bus.history import ORIGIN, EntryId, decode


def test_entry_ids_order_by_time_then_sequence() -> None:
    ids = [EntryId.parse(text) for text in ("1700000000001-0", "1700000000000-10", "1700000000000-2")]
    assert [str(i) for i in sorted(ids)] == ["1700000000000-2", "1700000000000-10", "1700000000001-0"]
    assert min(ids) > ORIGIN


def test_payload_splits_at_the_first_space_only() -> None:
    assert decode('1700000000000-3 {"type": "offer", "sdp": "v=0 o=- 1 2"}') == (
        EntryId(1700000000000, 3),
        '{"type": "offer", "sdp": "v=0 o=- 1 2"}',
    )
    assert decode("1700000000000-3 ") == (EntryId(1700000000000, 3), "")


def test_a_payload_without_an_entry_id_is_not_ours() -> None:
    assert decode("no-id-here") is None
    assert decode("hello world") is None
    assert decode("17-x message") is None
