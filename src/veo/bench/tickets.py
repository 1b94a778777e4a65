"""``veo bench tickets``: time the ticket list, a search and the reports page at scale.

Each database gets fresh generated data (:mod:`veo.server.sample`, the same generator as
``veo admin sample-data``, with the bench's plan); the real app then answers
real HTTP requests in-process (httpx over ASGI, signed in as a lead), so the figures include
routing, queries and template rendering but no network. Each page is requested ``runs`` times
after one warm-up and the median is reported. Search is timed for a common word ("printer",
in thousands of tickets) and a rare one (one requester's address, a few dozen tickets). The
reports page is measured three ways: as a reader sees it with unchanged data (warm: cached), cold
(cache emptied before every run: the full computation, as for the first reader of a period after
a start) and right after a ticket changed (the cached figures are served while new ones are
computed in the background).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio.to_thread
import httpx

from veo.bench.databases import label, throwaway
from veo.config import Settings
from veo.server.sample.generate import BENCH_PASSWORD, LEAD_EMAIL, bench_plan, generate

if TYPE_CHECKING:
    from veo.server.db.engine import Database

PAGES = {
    "list": "/tickets",
    #: a word in about one ticket in five: more matches than the search counts (10,000)
    "search": "/tickets?q=printer",
    #: one requester's address: a few dozen tickets among 100,000
    "search_rare": "/tickets?q=user1234%40corp",
    "reports": "/reports",
}
BASE_URL = "http://127.0.0.1:8000"


@dataclass
class Result:
    database: str
    tickets: int
    sessions: int
    generate_s: float
    #: page -> median milliseconds
    median_ms: dict[str, float] = field(default_factory=dict)
    #: page -> every run's milliseconds
    samples_ms: dict[str, list[float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


async def _timed(client: httpx.AsyncClient, path: str) -> float:
    start = time.perf_counter()
    response = await client.get(path)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.url} answered {response.status_code}: {response.text[:200]}")
    return elapsed


async def _measure(url: str, runs: int, result: Result) -> None:
    from veo.server.app import create_app
    from veo.server.reports import service as reports

    with tempfile.TemporaryDirectory(prefix="veo-bench-data-") as data:
        app = create_app(Settings(data_dir=Path(data), database_url=url, public_url=BASE_URL))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                login = await client.post("/login", data={"email": LEAD_EMAIL, "password": BENCH_PASSWORD})
                if login.status_code != 303:
                    raise RuntimeError(f"bench sign-in failed: {login.status_code}")
                for name, path in PAGES.items():
                    await _timed(client, path)  # warm-up (and fills the report cache)
                    samples = [await _timed(client, path) for _ in range(runs)]
                    result.samples_ms[name] = samples
                    result.median_ms[name] = statistics.median(samples)
                cold: list[float] = []
                for _ in range(runs):
                    reports.clear_caches()
                    cold.append(await _timed(client, PAGES["reports"]))
                result.samples_ms["reports_cold"] = cold
                result.median_ms["reports_cold"] = statistics.median(cold)
                changed: list[float] = []
                for run in range(runs):
                    _touch_a_ticket(app.state.db, run)
                    changed.append(await _timed(client, PAGES["reports"]))
                    await anyio.to_thread.run_sync(reports.wait_for_refreshes)
                result.samples_ms["reports_after_change"] = changed
                result.median_ms["reports_after_change"] = statistics.median(changed)


def _touch_a_ticket(db: Database, run: int) -> None:
    """A technician changes a ticket: the report's data fingerprint moves."""
    from sqlalchemy import update

    from veo.server.db.base import utcnow
    from veo.server.tickets.models import Ticket

    with db.session() as s:
        s.execute(update(Ticket).where(Ticket.id == run + 1).values(updated_at=utcnow()))


def run_one(server_url: str, count: int, runs: int, progress: Callable[[str], None]) -> Result:
    from sqlalchemy import create_engine

    from veo.server.db.migrate import migrate

    with throwaway(server_url) as url:
        migrate(url)
        engine = create_engine(url)
        try:
            progress(f"{label(server_url)}: generating {count} tickets")
            start = time.perf_counter()
            generated = generate(engine, bench_plan(count))
            took = time.perf_counter() - start
        finally:
            engine.dispose()
        result = Result(label(server_url), generated.tickets, generated.sessions, round(took, 2))
        progress(f"{label(server_url)}: generated in {took:.1f} s; measuring {runs} runs per page")
        asyncio.run(_measure(url, runs, result))
        return result


def table(results: list[Result]) -> str:
    """The figures as a fixed-width table (milliseconds, medians)."""
    columns = ["list", "search", "search_rare", "reports", "reports_cold", "reports_after_change"]
    width = 2 + max(len(c) + 3 for c in columns)
    header = f"{'database':<12}{'tickets':>9}{'generate s':>12}" + "".join(
        f"{c + ' ms':>{width}}" for c in columns
    )
    lines = [header, "-" * len(header)]
    for r in results:
        cells = "".join(f"{r.median_ms.get(c, float('nan')):>{width}.1f}" for c in columns)
        lines.append(f"{r.database:<12}{r.tickets:>9}{r.generate_s:>12.1f}{cells}")
    return "\n".join(lines)
