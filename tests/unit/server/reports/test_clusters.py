"""Clusters group the obviously alike tickets and keep the different ones apart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from veo.server.reports import clusters
from veo.server.reports.clusters import find_clusters
from veo.server.reports.rows import TicketRow

MONDAY = datetime(2026, 3, 2, 9, tzinfo=UTC)
WEEKS = [date(2026, 3, 2), date(2026, 3, 9)]
TEXTS = [
    ("Printer does not print", "The office printer shows a paper jam error"),
    ("Printer paper jam", "printer on floor 2 jammed again"),
    ("Cannot print to the printer", "print jobs stuck in the printer queue"),
    ("VPN does not connect", "VPN client fails to connect from home"),
    ("VPN connection drops", "the vpn disconnects every few minutes"),
    ("No puedo conectar la VPN", "la vpn no conecta desde casa"),
    ("Outlook password expired", "need to reset my email password"),
    ("Forgot my password", "reset the password of my email account"),
    ("Monitor flickers", "second screen flickering"),
    ("Coffee machine", "kitchen appliance broken"),
]


def rows(texts: list[tuple[str, str]] = TEXTS) -> list[TicketRow]:
    # Even ids in the first week, odd ids in the second.
    return [
        TicketRow(i, title, body, MONDAY + timedelta(days=7 * (i % 2), hours=i))
        for i, (title, body) in enumerate(texts, start=1)
    ]


def groups(found: list[clusters.Cluster]) -> list[set[int]]:
    return [{t.id for t in c.tickets} for c in found]


def test_alike_tickets_group_and_different_ones_stay_apart() -> None:
    found = find_clusters(rows(), WEEKS)
    assert sorted(map(sorted, groups(found))) == [[1, 2, 3], [4, 5, 6], [7, 8]]
    # The flickering monitor and the coffee machine are in no group.
    assert all(9 not in g and 10 not in g for g in groups(found))


def test_cluster_label_size_and_weekly_trend() -> None:
    printing = next(c for c in find_clusters(rows(), WEEKS) if 1 in {t.id for t in c.tickets})
    assert printing.size == 3
    assert "printer" in printing.terms  # whole words, not stems
    assert printing.trend == [1, 2]  # ticket 2 in week one; 1 and 3 in week two
    assert printing.tickets[0].title == "Printer does not print"


def test_largest_group_first() -> None:
    found = find_clusters(rows(), WEEKS)
    assert [c.size for c in found] == sorted((c.size for c in found), reverse=True)


def test_nothing_to_group() -> None:
    assert find_clusters([], WEEKS) == []
    assert find_clusters(rows([("a", "")]), WEEKS) == []
    assert find_clusters(rows([("the", "and"), ("of", "")]), WEEKS) == []  # stop words only
    assert find_clusters(rows([("Printer jam", ""), ("VPN down", "")]), WEEKS) == []


def test_input_is_bounded_to_the_most_recent(monkeypatch: object) -> None:
    many = rows([("Printer jam", "paper")] * (clusters.MAX_TICKETS + 50))
    (only,) = find_clusters(many, WEEKS)
    assert only.size == clusters.MAX_TICKETS
    assert len(only.tickets) == clusters.MAX_LISTED
