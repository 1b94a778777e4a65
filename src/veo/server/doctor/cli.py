"""``veo doctor``: run every check with this node's settings and print one line per check.

Settings come from the environment and flags exactly as ``veo server`` reads them, so running
``veo doctor`` in a node's environment (``systemd-run --property=EnvironmentFile=...``,
``docker compose exec veo1 veo doctor``) checks what that node uses. Exit status: 0 nothing to
do, 1 something needs doing (each such line says what), 2 called wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
from collections.abc import Awaitable

from veo.config import SUPPORTED_LANGUAGES, Settings
from veo.server.cli_common import add_database_flags, settings_from, use_terminal_language
from veo.server.cli_common import fail as fail_usage
from veo.server.doctor import database, keys, public_url, redis_nodes, turn
from veo.server.doctor.report import Finding, as_json, as_text, exit_status, fail
from veo.server.lang import _, set_language

PROG = "veo doctor"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description=_(
            "Check a running veo deployment with this node's settings: database and migrations, Redis "
            "and the nodes' clocks, the TURN relay, the public URL and its certificate, the keys."
        ),
    )
    add_database_flags(p)
    p.add_argument(
        "--lang", choices=SUPPORTED_LANGUAGES, help=_("language of the report (default: the terminal's)")
    )
    p.add_argument("--json", action="store_true", help=_("print the findings as JSON, for monitoring"))
    p.add_argument(
        "--ca-file",
        metavar="PATH",
        help=_("trust only this CA for the public URL and turns: (default: the system's CAs)"),
    )
    p.add_argument("--redis-prefix", default="veo:", help=_("prefix of veo's Redis keys (default: veo:)"))
    return p


async def _guarded(check: str, work: Awaitable[list[Finding]]) -> list[Finding]:
    """The check's findings; an error no check foresaw becomes one line, never a traceback."""
    try:
        return await work
    except Exception as exc:
        return [_unexpected(check, exc)]


def _unexpected(check: str, exc: Exception) -> Finding:
    return fail(
        check,
        _("the check stopped on an unexpected error: %(error)s")
        % {"error": f"{type(exc).__name__}: {str(exc)[:200]}"},
        _("report this line to veo's developers; the other checks are not affected."),
    )


def _database(settings: Settings) -> tuple[list[Finding], database.Facts]:
    try:
        return database.check(settings)
    except Exception as exc:
        return [_unexpected(database.CHECK, exc)], database.Facts()


async def run_checks(settings: Settings, tls: ssl.SSLContext, redis_prefix: str = "veo:") -> list[Finding]:
    """Every check; the database one on a worker thread, the network ones at the same time."""
    (db, facts), bus, relay, web = await asyncio.gather(
        asyncio.to_thread(_database, settings),
        _guarded(redis_nodes.CHECK, redis_nodes.check(settings.redis_url, redis_prefix)),
        _guarded("turn", turn.check(settings, tls)),
        _guarded(public_url.CHECK, public_url.check(settings.public_url, tls)),
    )
    try:
        on_disk = keys.check(settings.data_dir, facts)
    except Exception as exc:
        on_disk = [_unexpected(keys.CHECK, exc)]
    return [*db, *bus, *relay, *web, *on_disk]


def main(argv: list[str]) -> int:
    use_terminal_language()
    args = parser().parse_args(argv)
    if args.lang:
        set_language(args.lang)
    settings = settings_from(args, PROG)
    try:
        tls = turn.tls_context(args.ca_file)
    except (OSError, ssl.SSLError) as exc:
        fail_usage(
            PROG, _("cannot use the CA file %(path)s: %(error)s") % {"path": args.ca_file, "error": exc}
        )
    findings = asyncio.run(run_checks(settings, tls, args.redis_prefix))
    print(as_json(findings) if args.json else as_text(findings))
    return exit_status(findings)
