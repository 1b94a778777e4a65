"""``veo audit``: ``verify`` the log (database or export) and ``export`` it off the server.

``verify`` exits 1 at the first broken entry or any bad or missing checkpoint, naming it, so a
cron job can alert on it; 2 means it was called wrong or could not read its input. The public key
for checkpoints comes from ``--public-key`` (best: a copy kept away from the server), else from
the export directory or the server's data directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from veo.config import Settings
from veo.server.audit import export as exporting
from veo.server.audit import keys
from veo.server.audit.verify import Report, verify, verify_database
from veo.server.cli_common import add_database_flags, fail, settings_from, use_terminal_language
from veo.server.db.engine import Database
from veo.server.lang import _

PROG = "veo audit"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=_("Check and export the audit log."))
    add_database_flags(p)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("verify", help=_("check that no audit entry was altered, removed or reordered"))
    check.add_argument("--export", metavar="DIR", help=_("check an export directory instead of the database"))
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
    db = _database(settings)
    try:
        with db.session() as s:
            report = verify_database(s, public)
    except Exception as exc:
        fail(PROG, _("cannot read the audit log: %(error)s") % {"error": exc})
    finally:
        db.dispose()
    return _print_report(report, public is not None)


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
