"""The key a receiver drops repeats by: the same for every attempt of one row, different for a
row that reuses an id (a restore of an older backup, another installation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from veo.server.notify import outbox
from veo.server.notify.models import OutboxMessage


def row(message_id: int, created_at: datetime) -> OutboxMessage:
    return OutboxMessage(id=message_id, created_at=created_at)


def test_one_row_one_key_and_a_reused_id_another() -> None:
    created = datetime(2026, 12, 6, 21, 0, 0, 123456, tzinfo=UTC)
    key = outbox.delivery_key(row(412, created))
    assert key == outbox.delivery_key(row(412, created))  # every retry
    assert key.startswith("412.")
    # the same id issued again after a restore, a microsecond (or a month) later
    assert outbox.delivery_key(row(412, created + timedelta(microseconds=1))) != key
    assert outbox.delivery_key(row(412, created + timedelta(days=30))) != key
    # the same instant written in another offset is the same row
    same_instant = created.astimezone(datetime.now().astimezone().tzinfo)
    assert outbox.delivery_key(row(412, same_instant)) == key
