"""``veo bench``: subcommands that measure veo: ``tickets``, ``stream`` (screen sharing vs VNC),
``agent-file`` (the one-file agent's size and start time, ``veo.bench.agent_file``) and
``signaling`` (idle agents and session set-ups on one and two nodes, ``veo.bench.signaling``).

Usage: ``veo bench tickets [--count 100000] [--database-url URL ...] [--runs 5] [--json PATH]``.
Without ``--database-url`` it measures SQLite and the PostgreSQL server at
``postgresql+psycopg://postgres@127.0.0.1:5432/test``; every run uses its own throwaway database.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from veo.i18n import gettext_for, system_language


def _positive(maximum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 1 <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be between 1 and {maximum}")
        return value

    return parse


def _database_url(text: str) -> str:
    try:
        backend = make_url(text).get_backend_name()
    except ArgumentError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a database URL") from None
    if backend not in ("sqlite", "postgresql"):
        raise argparse.ArgumentTypeError("use a sqlite:// or postgresql+psycopg:// URL")
    return text


def parser() -> argparse.ArgumentParser:
    _ = gettext_for(system_language()).gettext
    root = argparse.ArgumentParser(prog="veo bench", description=_("Measure veo with generated data."))
    sub = root.add_subparsers(dest="what", metavar="WHAT", required=True)
    tickets = sub.add_parser(
        "tickets", help=_("time the ticket list, a search and the reports page with many tickets")
    )
    tickets.add_argument("--count", type=_positive(2_000_000), default=100_000, help=_("tickets to generate"))
    tickets.add_argument(
        "--database-url",
        type=_database_url,
        action="append",
        dest="database_urls",
        metavar="URL",
        help=_("database server to use (repeatable); a throwaway database is created on it and dropped"),
    )
    tickets.add_argument("--runs", type=_positive(1000), default=5, help=_("timed requests per page"))
    tickets.add_argument("--json", type=Path, metavar="PATH", help=_("also write the figures as JSON"))
    from veo.bench.stream import cli as stream_cli

    stream_cli.add_parser(sub, _)
    from veo.bench import agent_file

    agent_file.add_parser(sub, _)
    from veo.bench.signaling import cli as signaling_cli

    signaling_cli.add_parser(sub, _)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.what == "stream":
        from veo.bench.stream import cli as stream_cli

        return stream_cli.main(args)
    if args.what == "agent-file":
        from veo.bench import agent_file

        return agent_file.main(args)
    if args.what == "signaling":
        from veo.bench.signaling import cli as signaling_cli

        return signaling_cli.main(args)
    from veo.bench.databases import DEFAULT_POSTGRES
    from veo.bench.tickets import run_one, table

    urls: list[str] = args.database_urls or ["sqlite://", DEFAULT_POSTGRES]

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results = []
    for url in urls:
        try:
            results.append(run_one(url, args.count, args.runs, progress))
        except Exception as exc:  # one database down must not hide the other's figures
            progress(f"{make_url(url).get_backend_name()}: failed: {str(exc).splitlines()[0]}")
    print(table(results))
    if args.json is not None:
        payload = {"count": args.count, "runs": args.runs, "results": [r.as_dict() for r in results]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0 if len(results) == len(urls) else 1
