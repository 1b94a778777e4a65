"""``veo admin sample-data``: months of realistic tickets in a fresh instance, to look at on day one.

Without it a newcomer (or a support lead weighing a pilot) meets empty reports until months of
real tickets exist. The command refuses a database that already holds tickets, since sample
tickets would mix with real ones in every list and figure; ``--force`` adds them anyway. The
sample accounts get a random password that is never shown (``veo admin set-password`` gives
one a password), and the audit log records that sample data was added, by whom and how much.
"""

from __future__ import annotations

import sys

from babel.dates import format_date
from babel.numbers import format_decimal
from sqlalchemy import func, select

from veo.config import Settings
from veo.server.audit.service import record
from veo.server.cli_common import fail
from veo.server.db.engine import Database
from veo.server.lang import _, get_language
from veo.server.sample import texts
from veo.server.sample.generate import CHUNK, demo_plan, generate
from veo.server.tickets.models import Ticket

MAX_MONTHS = 36


def _number(value: int) -> str:
    return format_decimal(value, locale=get_language())


def _day(value: object) -> str:
    return format_date(value, format="long", locale=get_language())  # type: ignore[arg-type]


def _progress(done: int, total: int) -> None:
    """One line per step on stderr (the summary goes to stdout); nothing for a single step."""
    if total <= CHUNK:
        return
    print(
        _("Writing sample tickets: %(done)s of %(total)s") % {"done": _number(done), "total": _number(total)},
        file=sys.stderr,
        flush=True,
    )


def sample_data(prog: str, settings: Settings, db: Database, *, months: int, seed: int, force: bool) -> int:
    with db.session() as s:
        existing = s.scalar(select(func.count()).select_from(Ticket)) or 0
    if existing and not force:
        fail(
            prog,
            _(
                "the database already holds %(count)s tickets; sample tickets would mix with them in "
                "every list and report. Use a fresh data directory (for example "
                "VEO_DATA_DIR=var/sample), or add --force to add them anyway."
            )
            % {"count": _number(existing)},
        )
    plan = demo_plan(months, seed)
    done = generate(db.engine, plan, progress=_progress)
    with db.session() as s:
        record(
            s,
            "sample.generated",
            actor="cli",
            details={"tickets": done.tickets, "months": months, "seed": seed, "sessions": done.sessions},
        )
    print(
        _(
            "Added %(tickets)s sample tickets created from %(first)s to %(last)s, with "
            "%(technicians)s technicians, %(sessions)s remote sessions, %(ratings)s ratings "
            "and the pilot “%(pilot)s”."
        )
        % {
            "tickets": _number(done.tickets),
            "first": _day(done.first_day),
            "last": _day(done.last_day),
            "technicians": _number(done.technicians),
            "sessions": _number(done.sessions),
            "ratings": _number(done.ratings),
            "pilot": texts.PILOT_NAME,
        }
    )
    if "public_url" in settings.model_fields_set:
        print(
            _("See them at %(url)s (signed in as an administrator or a lead).")
            % {"url": f"{settings.public_url}/reports"}
        )
    else:  # unset here though the server may run elsewhere (make run PORT=...): no address to guess
        print(_("See them on veo's Reports page (signed in as an administrator or a lead)."))
    print(
        _("The sample technicians (…@%(domain)s) cannot sign in until %(command)s gives one a password.")
        % {"domain": plan.email_domain, "command": "veo admin set-password EMAIL"}
    )
    return 0
