"""A small set of tickets whose figures are worked out by hand in the tests.

Period: Monday 2 to Sunday 15 March 2026 (two ISO weeks). ``T6`` lies outside it.

=====  =========  ========  ==========  ========  ========  =====  =========================
id     created    first     resolved    category  priority  tech   other
=====  =========  ========  ==========  ========  ========  =====  =========================
T1     Mon 2      +10 min   +2 h        Printing  high      Ana    1 session, rated 5
T2     Tue 3      +20 min   +4 h        Printing  normal    Ana
T3     Wed 4      +30 min   +6 h        Network   normal    Ben    2 sessions, reopened, rated 3
T4     Mon 9      +40 min   +8 h        Network   high      Ben    waited on the user
T5     Tue 10     +50 min   (open)      Printing  low       Ana
T6     Fri 20     +5 min    +1 h        Network   urgent    Ana    outside the period
=====  =========  ========  ==========  ========  ========  =====  =========================

Sessions: Ana 30 min on T1; Ben 10 and 20 min on T3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

START = date(2026, 3, 2)
END = date(2026, 3, 15)
ANA, BEN = 1, 2


@dataclass(frozen=True)
class Spec:
    title: str
    description: str
    created: datetime
    first_minutes: int
    resolved_hours: int | None
    category: str
    priority: str
    tech: int
    sessions: tuple[int, ...] = ()  # lengths in minutes
    reopened: int = 0
    waited: bool = False
    rating: int | None = None


def at(day: int, hour: int = 9) -> datetime:
    """``day`` of March 2026 (0 and below count back into February)."""
    return datetime(2026, 3, 1, hour, tzinfo=UTC) + timedelta(days=day - 1)


SPECS = [
    Spec("Printer jams", "paper jam on floor 2", at(2), 10, 2, "Printing", "high", ANA, (30,), rating=5),
    Spec("Printer offline", "cannot print", at(3), 20, 4, "Printing", "normal", ANA),
    Spec(
        "VPN drops", "vpn disconnects", at(4), 30, 6, "Network", "normal", BEN, (10, 20), reopened=1, rating=3
    ),
    Spec("Wifi slow", "wireless is slow", at(9), 40, 8, "Network", "high", BEN, waited=True),
    Spec("Toner empty", "printer toner", at(10), 50, None, "Printing", "low", ANA),
    Spec("Late ticket", "after the period", at(20), 5, 1, "Network", "urgent", ANA),
]
NAMES = {ANA: "Ana", BEN: "Ben"}


def resolved(spec: Spec) -> datetime | None:
    return None if spec.resolved_hours is None else spec.created + timedelta(hours=spec.resolved_hours)


def session_start(spec: Spec, index: int) -> datetime:
    return spec.created + timedelta(minutes=spec.first_minutes + 60 * index)
