"""``veo audit``: ``verify`` the log (database or export) and ``export`` it off the server.

``verify`` exits 1 at the first broken entry or any bad or missing checkpoint, naming it, so a
cron job can alert on it; 2 means it was called wrong or could not read its input. The public key
for checkpoints comes from ``--public-key`` (best: a copy kept away from the server), else from
the export directory or the server's data directory.

Checking the database also holds its end to the head marker in the data directory
(``head.py``): the newest entry and checkpoint this server committed must still be there.
``--against DIR`` also requires every entry and checkpoint of an earlier export to be in the
database unchanged (``against.py``); keep exports off the server for that.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from veo.config import Settings
from veo.server.audit import export as exporting
from veo.server.audit import head as head_marker
from veo.server.audit import keys
from veo.server.audit.against import Comparison, compare
from veo.server.audit.verify import HeadProblem, Report, db_checkpoints, db_entries, verify, verify_database
from veo.server.cli_common import add_database_flags, fail, settings_from, use_terminal_language
from veo.server.db.engine import Database
from veo.server.lang import _, ngettext

PROG = "veo audit"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=_("Check and export the audit log."))
    add_database_flags(p)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("verify", help=_("check that no audit entry was altered, removed or reordered"))
    source = check.add_mutually_exclusive_group()
    source.add_argument(
        "--export", metavar="DIR", help=_("check an export directory instead of the database")
    )
    source.add_argument(
        "--against",
        metavar="DIR",
        help=_("also require the database to hold every entry and checkpoint of this earlier export"),
    )
    check.add_argument(
        "--public-key", metavar="FILE", help=_("public key to check checkpoint signatures with")
    )
    out = sub.add_parser("export", help=_("write entries, checkpoints and the public key to a directory"))
    out.add_argument("--out", metavar="DIR", required=True, help=_("directory to write to"))
    return p


def _problem_text(problem: str) -> str:
    texts = {
        "missing": _("missing (an entry was removed)"),
        "reordered": _("does not follow the previous entry (reordered or an entry was removed)"),
        "altered": _("was altered after it was written"),
    }
    return texts.get(problem, problem)


def _checkpoint_problem_text(problem: str) -> str:
    texts = {
        "bad_signature": _("the signature is not valid (forged or altered checkpoint)"),
        "unknown_key": _("signed by another key"),
        "missing": _("missing (a checkpoint was removed)"),
        "out_of_order": _("does not come after the previous checkpoint"),
        "hash_mismatch": _("the log no longer has the signed entry (entries up to it were rewritten)"),
        "beyond_chain": _("signs an entry the log no longer has (entries at the end were removed)"),
        "unverifiable": _("cannot be checked: the chain is broken before it"),
    }
    return texts.get(problem, problem)


def _head_problem_text(problem: HeadProblem) -> str:
    if problem.problem == "entries_removed":
        return _(
            "REMOVED: this server wrote entries up to seq %(seq)d, but the database ends at seq %(have)d; "
            "the newest entries were deleted."
        ) % {"seq": problem.seq, "have": problem.have}
    if problem.problem == "rewritten":
        return _(
            "CHANGED: entry seq %(seq)d is not the one this server wrote; the log was rewritten "
            "from there or earlier."
        ) % {"seq": problem.seq}
    return _(
        "REMOVED: this server signed checkpoint #%(number)d, but the newest checkpoint in the "
        "database is #%(have)d; checkpoints were deleted."
    ) % {"number": problem.number, "have": problem.have}


def _print_head(report: Report, head: head_marker.Head | None, path: Path) -> None:
    if head is None:
        print(
            _(
                "No record of the newest entry at %(path)s (it is written by the server): deleted "
                "newest entries are found only up to the last checkpoint."
            )
            % {"path": path}
        )
        return
    for problem in report.head_problems:
        print(_head_problem_text(problem))
    if not report.head_problems:
        print(
            _("OK: the database still holds the newest entry this server wrote (seq %(seq)d).")
            % {"seq": head.seq}
        )


def _print_unsigned_tail(report: Report) -> None:
    if report.chain.ok and report.problems == [] and report.chain.count > report.covered_to:
        waiting = report.chain.count - report.covered_to
        print(
            ngettext(
                "%(count)d newest entry is not covered by a checkpoint yet.",
                "%(count)d newest entries are not covered by a checkpoint yet.",
                waiting,
            )
            % {"count": waiting}
        )


def _print_comparison(comparison: Comparison, directory: Path) -> int:
    values = {"dir": directory, "seq": comparison.seq or 0, "number": comparison.number or 0}
    if comparison.ok:
        print(
            _(
                "OK: the database still holds all %(entries)d entries and %(checkpoints)d checkpoints "
                "of the export in %(dir)s."
            )
            % {**values, "entries": comparison.entries, "checkpoints": comparison.checkpoints}
        )
        return 0
    if comparison.seq is not None and comparison.problem == "missing":
        text = _(
            "MISSING: entry seq %(seq)d of the export in %(dir)s is not in the database (it was removed)."
        )
    elif comparison.seq is not None:
        text = _("CHANGED: entry seq %(seq)d in the database differs from the export in %(dir)s.")
    elif comparison.problem == "missing":
        text = _("MISSING: checkpoint #%(number)d of the export in %(dir)s is not in the database.")
    else:
        text = _("CHANGED: checkpoint #%(number)d in the database differs from the export in %(dir)s.")
    print(text % values)
    return 1


def _database(settings: Settings) -> Database:
    url = settings.effective_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        fail(PROG, _("no database at %(path)s") % {"path": url.removeprefix("sqlite:///")})
    return Database(url)


def _public_key(given: str | None, fallback: Path | None) -> Ed25519PublicKey | None:
    path = Path(given) if given else fallback
    if path is None or (not given and not path.exists()):
        return None
    try:
        return keys.load_public(path)
    except keys.KeyFileError as exc:
        fail(PROG, _("cannot read the public key: %(error)s") % {"error": exc})


def _print_report(report: Report, key_checked: bool) -> int:
    chain = report.chain
    if chain.ok:
        print(_("OK: %(count)d audit entries, chain intact.") % {"count": chain.count})
    else:
        print(
            _("BROKEN at seq %(seq)d: entry %(problem)s; %(count)d entries before it are intact.")
            % {"seq": chain.seq or 0, "problem": _problem_text(chain.problem or ""), "count": chain.count}
        )
    if not key_checked:
        print(_("Checkpoints not checked: no public key (give --public-key)."))
    else:
        for problem in report.problems:
            print(
                _("BAD checkpoint #%(number)d at seq %(seq)d: %(problem)s")
                % {
                    "number": problem.number,
                    "seq": problem.seq,
                    "problem": _checkpoint_problem_text(problem.problem),
                }
            )
        if not report.problems:
            print(
                _("OK: %(count)d checkpoints, signatures valid; signed up to seq %(seq)d.")
                % {"count": report.checkpoints, "seq": report.covered_to}
            )
    return 0 if report.ok else 1


def verify_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.export:
        directory = Path(args.export)
        public = _public_key(args.public_key, exporting.public_key_file(directory))
        try:
            report = verify(exporting.read_entries(directory), exporting.read_checkpoints(directory), public)
        except exporting.ExportError as exc:
            fail(PROG, str(exc))
        return _print_report(report, public is not None)
    public = _public_key(args.public_key, keys.key_dir(settings.data_dir) / keys.PUBLIC_NAME)
    against = Path(args.against) if args.against else None
    try:  # before the database: the marker trails it, so read first it can never run ahead
        head = head_marker.read(keys.key_dir(settings.data_dir))
    except head_marker.HeadError as exc:
        fail(PROG, _("cannot read the record of the newest entry: %(error)s") % {"error": exc})
    db = _database(settings)
    comparison: Comparison | None = None
    try:
        with db.session() as s:
            report = verify_database(s, public, head)
            if against is not None:
                comparison = compare(
                    db_entries(s),
                    exporting.read_entries(against),
                    db_checkpoints(s),
                    exporting.read_checkpoints(against),
                )
    except exporting.ExportError as exc:
        fail(PROG, str(exc))
    except Exception as exc:
        fail(PROG, _("cannot read the audit log: %(error)s") % {"error": exc})
    finally:
        db.dispose()
    code = _print_report(report, public is not None)
    _print_head(report, head, head_marker.path_in(keys.key_dir(settings.data_dir)))
    if public is not None:
        _print_unsigned_tail(report)
    if comparison is not None and against is not None:
        code = max(code, _print_comparison(comparison, against))
    return 1 if not report.ok else code


def export_command(settings: Settings, args: argparse.Namespace) -> int:
    out = Path(args.out)
    db = _database(settings)
    try:
        with db.session() as s:
            summary = exporting.export(s, out, exporting.server_public_key_pem(settings.data_dir))
    except OSError as exc:
        fail(PROG, _("cannot write the export: %(error)s") % {"error": exc})
    except Exception as exc:
        fail(PROG, _("cannot read the audit log: %(error)s") % {"error": exc})
    finally:
        db.dispose()
    print(
        _("Exported %(entries)d entries and %(checkpoints)d checkpoints to %(dir)s.")
        % {"entries": summary.entries, "checkpoints": summary.checkpoints, "dir": out}
    )
    return 0


def main(argv: list[str]) -> int:
    use_terminal_language()
    args = parser().parse_args(argv)
    settings = settings_from(args, PROG)
    if args.action == "export":
        return export_command(settings, args)
    return verify_command(settings, args)
