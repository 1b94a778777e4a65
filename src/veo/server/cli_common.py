"""What every server-side command shares: settings from flags and environment, one-line errors.

A bad flag or setting must stop the command with one clear line on stderr and exit status 2,
before anything is written, so that scripts can tell "you called me wrong" from "it failed".
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from pydantic import ValidationError

from veo.config import Settings
from veo.i18n import system_language
from veo.server.lang import _, set_language

USAGE_ERROR = 2


def add_database_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help=_("data directory (default: $VEO_DATA_DIR or ./var)"))
    parser.add_argument(
        "--database-url", help=_("SQLAlchemy URL (default: SQLite file in the data directory)")
    )


def settings_from(args: argparse.Namespace, prog: str, **extra: object) -> Settings:
    """Settings from the environment with the command's flags on top; exits 2 when invalid."""
    overrides: dict[str, object] = {
        "data_dir": getattr(args, "data_dir", None),
        "database_url": getattr(args, "database_url", None),
        **extra,
    }
    try:
        return Settings.model_validate({k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        fail(prog, _("invalid setting %(field)s: %(problem)s") % {"field": field, "problem": first["msg"]})


def fail(prog: str, message: str) -> NoReturn:
    print(f"{prog}: {message}", file=sys.stderr)
    raise SystemExit(USAGE_ERROR)


def use_terminal_language() -> None:
    set_language(system_language())
