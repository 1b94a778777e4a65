"""The bench's data: accounts, a ticket and many waiting sessions with codes the bench knows.

Written straight through the service layer into the (throwaway) database before the nodes
start: ``veo.server.sample`` makes the accounts and tickets as for ``veo bench tickets``, then
``service.create_session`` issues each session exactly as the API would, with its audit event,
under the data directory's code secret (the nodes read the same one). Driving the web UI ten
thousand times would measure the UI, not signaling. The set-ups create their sessions through
the real API instead, since that call is part of what they time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, func, select

from veo.server.audit import checkpoints, keys
from veo.server.auth import service as auth
from veo.server.auth.models import User
from veo.server.db.engine import Database
from veo.server.db.migrate import migrate
from veo.server.sample.generate import LEAD_EMAIL, bench_plan, generate
from veo.server.sessions import code_secret, service
from veo.server.tickets.models import Ticket

#: Tickets generated: a few are enough, sessions may share a ticket.
TICKETS = 20
#: Sessions issued per transaction.
BATCH = 500
#: The idle agents' codes must outlive the bench's slowest join (the API's default is 10 minutes).
IDLE_CODE_TTL_SECONDS = 4 * 3600


@dataclass(frozen=True)
class Waiting:
    session_id: str
    code: str


@dataclass(frozen=True)
class World:
    ticket_id: int
    #: an API token of the lead (``Authorization: Bearer``), to create sessions over HTTP
    bearer: str
    #: the lead's browser-session cookie value, for console sockets
    cookie: str
    waiting: list[Waiting]


def prepare(url: str, data_dir: Path, sessions: int, progress: Callable[[str], None]) -> World:
    """Migrate ``url``, generate the accounts, sign the lead in and issue ``sessions`` sessions."""
    migrate(url, data_dir)
    code_secret.use(data_dir)
    engine = create_engine(url)
    try:
        generate(engine, bench_plan(TICKETS))
    finally:
        engine.dispose()
    db = Database(url)
    checkpoints.configure(db, checkpoints.Signer(key_directory=keys.key_dir(data_dir)))
    try:
        with db.session() as s:
            lead = s.scalars(select(User).where(User.email == LEAD_EMAIL)).one()
            ticket_id = s.scalar(select(func.min(Ticket.id)))
            if ticket_id is None:
                raise RuntimeError("the sample data holds no ticket")
            bearer, _ = auth.issue_api_token(s, lead)
            cookie, _ = auth.start_web_session(s, lead)
        waiting: list[Waiting] = []
        while len(waiting) < sessions:
            with db.session() as s:
                lead = s.scalars(select(User).where(User.email == LEAD_EMAIL)).one()
                for _ in range(min(BATCH, sessions - len(waiting))):
                    made = service.create_session(
                        s,
                        ticket_id=ticket_id,
                        technician=lead,
                        permissions=None,
                        ttl_seconds=IDLE_CODE_TTL_SECONDS,
                    )
                    if made.code is None:
                        raise RuntimeError("a new session has no live code")
                    waiting.append(Waiting(made.id, made.code))
            progress(f"issued {len(waiting)}/{sessions} sessions")
        return World(ticket_id, bearer, cookie, waiting)
    finally:
        checkpoints.configure(db, None)
        db.dispose()
