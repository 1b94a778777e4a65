"""``veo audit verify``: check the audit log's hash chain; exit 1 at the first broken entry."""

from __future__ import annotations

import argparse
from pathlib import Path

from veo.server.audit.verify import verify_chain
from veo.server.cli_common import add_database_flags, fail, settings_from, use_terminal_language
from veo.server.db.engine import Database
from veo.server.lang import _

PROG = "veo audit"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=_("Check the audit log."))
    add_database_flags(p)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("verify", help=_("check that no audit entry was altered, removed or reordered"))
    return p


def _problem_text(problem: str) -> str:
    texts = {
        "missing": _("missing (an entry was removed)"),
        "reordered": _("does not follow the previous entry (reordered or an entry was removed)"),
        "altered": _("was altered after it was written"),
    }
    return texts.get(problem, problem)


def main(argv: list[str]) -> int:
    use_terminal_language()
    args = parser().parse_args(argv)
    settings = settings_from(args, PROG)
    url = settings.effective_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        fail(PROG, _("no database at %(path)s") % {"path": url.removeprefix("sqlite:///")})
    db = Database(url)
    try:
        with db.session() as s:
            verdict = verify_chain(s)
    except Exception as exc:
        fail(PROG, _("cannot read the audit log: %(error)s") % {"error": exc})
    finally:
        db.dispose()
    if verdict.ok:
        print(_("OK: %(count)d audit entries, chain intact.") % {"count": verdict.count})
        return 0
    message = _("BROKEN at seq %(seq)d: entry %(problem)s; %(count)d entries before it are intact.") % {
        "seq": verdict.seq or 0,
        "problem": _problem_text(verdict.problem or ""),
        "count": verdict.count,
    }
    print(message)
    return 1
