"""The ``veo`` command: one entry point, each subcommand owned by the part it drives.

Subcommands import their part lazily, so ``veo agent`` works on a computer that has only
``veo[agent]`` installed and ``veo server`` never loads aiortc.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from veo import __version__
from veo.i18n import N_, gettext_for, system_language

#: subcommand -> (module with ``main(argv) -> int``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "server": ("veo.server.main", N_("run the veo server (web app, API, signaling)")),
    "agent": ("veo.agent.main", N_("share this computer's screen with a technician")),
    "admin": ("veo.server.admin", N_("manage users and the database (create-user, init, ...)")),
    "audit": ("veo.server.audit.cli", N_("check and export the audit log (verify, export)")),
    "bench": ("veo.bench.main", N_("measure veo (tickets, ...)")),
    "doctor": ("veo.server.doctor.cli", N_("check a running deployment and say what is wrong")),
}


def _parser() -> argparse.ArgumentParser:
    _ = gettext_for(system_language()).gettext
    parser = argparse.ArgumentParser(prog="veo", description=_("veo: self-hosted remote technical support."))
    parser.add_argument("--version", action="version", version=f"veo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=_(help_text), add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not argv:
        # No command is a usage error (exit 2, as argparse's own), but the reader needs the list.
        parser.print_help(sys.stderr)
        return 2
    if argv[0] not in COMMANDS:
        parser.parse_args(argv)  # --help, --version, or an unknown command (exits 2 with the usage)
        return 2
    module_name = COMMANDS[argv[0]][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        extra = "agent" if argv[0] == "agent" else "server"
        _ = gettext_for(system_language()).gettext
        message = _("missing dependency {name!r}; install veo[{extra}]").format(name=exc.name, extra=extra)
        print(f"veo {argv[0]}: {message}", file=sys.stderr)
        return 2
    result: int = module.main(argv[1:])
    return result
