"""``veo doctor``: run every check with this node's settings and print one line per check.

Settings come from the environment and flags exactly as ``veo server`` reads them, so running
``veo doctor`` in a node's environment (``systemd-run --property=EnvironmentFile=...``,
``docker compose exec veo1 veo doctor``) checks what that node uses. Exit status: 0 nothing to
do, 1 something needs doing (each such line says what), 2 called wrong.
"""

from __future__ import annotations

import argparse
import asyncio

from veo.config import SUPPORTED_LANGUAGES, Settings
from veo.server.cli_common import add_database_flags, settings_from, use_terminal_language
from veo.server.doctor import database, keys, public_url, redis_nodes, turn
from veo.server.doctor.report import Finding, as_json, as_text, exit_status
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


async def run_checks(
    settings: Settings, ca_file: str | None = None, redis_prefix: str = "veo:"
) -> list[Finding]:
    """Every check; the database one on a worker thread, the network ones at the same time."""
    tls = turn.tls_context(ca_file)
    (db, facts), bus, relay, web = await asyncio.gather(
        asyncio.to_thread(database.check, settings),
        redis_nodes.check(settings.redis_url, redis_prefix),
        turn.check(settings, ca_file),
        public_url.check(settings.public_url, tls),
    )
    return [*db, *bus, *relay, *web, *keys.check(settings.data_dir, facts)]


def main(argv: list[str]) -> int:
    use_terminal_language()
    args = parser().parse_args(argv)
    if args.lang:
        set_language(args.lang)
    settings = settings_from(args, PROG)
    findings = asyncio.run(run_checks(settings, args.ca_file, args.redis_prefix))
    print(as_json(findings) if args.json else as_text(findings))
    return exit_status(findings)
