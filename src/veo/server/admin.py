"""``veo admin``: set up the database, manage accounts and role policies from the server's shell.

``set-password`` is the way back in for anyone who lost a password (the first administrator's
one-time password included: ``init`` prints it only once, so a first run that failed after printing
it leaves no other way); ``reset-totp`` for an administrator who lost their phone and their
recovery codes; ``policy`` prints a role's policy, or changes only the settings it is given;
``sample-data`` fills a fresh instance with months of realistic tickets to look at; ``agent``
puts in place the builds that ``/download`` hands out (``downloads/cli.py``).

One-time passwords are printed once and never stored in clear; the account must replace such a
password at first sign-in. ``--password-stdin`` lets automation set a password it already knows
(then no change is forced).
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session

from veo.config import Settings
from veo.protocol.resume import MAX_GRACE_SECONDS
from veo.server.auth import passwords, service, totp
from veo.server.auth.models import ROLES
from veo.server.cli_common import add_database_flags, fail, settings_from, use_terminal_language
from veo.server.db.engine import Database
from veo.server.db.migrate import migrate
from veo.server.devices import cli as device_cli
from veo.server.downloads import cli as agent_cli
from veo.server.errors import ApiError, InvalidInput
from veo.server.lang import _
from veo.server.policies import service as policies
from veo.server.policies.capabilities import Capability, UnknownCapability, ordered, parse_capabilities
from veo.server.sample import command as sample_command
from veo.server.sample.command import MAX_MONTHS
from veo.server.web import wording

PROG = "veo admin"
INITIAL_ADMIN = "admin@localhost"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=_("Manage the veo database and accounts."))
    add_database_flags(p)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("init", help=_("create or upgrade the database; create the first administrator"))
    create = sub.add_parser("create-user", help=_("add a technician, lead or administrator"))
    create.add_argument("email")
    create.add_argument("--name", required=True, help=_("name shown to users"))
    create.add_argument("--role", required=True, choices=ROLES, help=_("what the account may do"))
    create.add_argument(
        "--password-stdin", action="store_true", help=_("read the password from standard input")
    )
    setpw = sub.add_parser(
        "set-password",
        help=_("give an account a new one-time password (lost or never received)"),
        description=_(
            "Print a new one-time password for the account, to be changed at its next sign-in; "
            "with --password-stdin, set the password read from standard input instead."
        ),
    )
    setpw.add_argument("email")
    setpw.add_argument(
        "--password-stdin", action="store_true", help=_("read the password from standard input")
    )
    reset = sub.add_parser("reset-totp", help=_("turn off an account's two-factor sign-in (lost phone)"))
    reset.add_argument("email")
    sample = sub.add_parser(
        "sample-data",
        help=_("fill a fresh instance with months of realistic sample tickets, to try the reports"),
        description=_(
            "Add months of realistic tickets, technicians, remote sessions, ratings and a pilot, "
            "so that the reports have something to show. Refuses a database that already holds "
            "tickets unless --force is given."
        ),
    )
    sample.add_argument(
        "--months",
        type=_months,
        default=6,
        help=_("months of tickets, up to today (1 to %(max)d; default 6)") % {"max": MAX_MONTHS},
    )
    sample.add_argument(
        "--seed", type=int, default=1, help=_("random seed; the same seed gives the same data (default 1)")
    )
    sample.add_argument(
        "--force", action="store_true", help=_("add the sample even if the database already holds tickets")
    )
    policy = sub.add_parser("policy", help=_("show or change what a role may do"))
    policy.add_argument("role", choices=ROLES)
    policy.add_argument(
        "--max-permissions",
        metavar="LIST",
        help=_("comma-separated: %(names)s") % {"names": ",".join(c.value for c in Capability)},
    )
    policy.add_argument("--totp-required", choices=("yes", "no"), help=_("require two-factor sign-in"))
    policy.add_argument(
        "--identity-before-control",
        choices=("yes", "no"),
        help=_("require the user's identity to be confirmed before control"),
    )
    policy.add_argument(
        "--resume-grace",
        type=int,
        metavar="SECONDS",
        help=_("how long a session waits for a lost connection to come back (0 to %(most)s; 0: no wait)")
        % {"most": MAX_GRACE_SECONDS},
    )
    agent_cli.add_parser(sub)
    device_cli.add_parsers(sub)
    return p


def _months(value: str) -> int:
    try:
        months = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(_("%(value)r is not a whole number") % {"value": value}) from None
    if not 1 <= months <= MAX_MONTHS:
        raise argparse.ArgumentTypeError(_("must be between 1 and %(max)d") % {"max": MAX_MONTHS})
    return months


def _read_password() -> str:
    """The first line of stdin, without its line ending (a password may contain spaces)."""
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _database(settings: Settings) -> Database:
    try:
        migrate(settings.effective_database_url, settings.data_dir)
    except Exception as exc:
        fail(PROG, _("cannot open the database: %(error)s") % {"error": exc})
    return Database(settings.effective_database_url)


def _command() -> str:
    """How the operator called veo (``.venv/bin/veo`` under ``make run``), to print runnable hints."""
    called = sys.argv[0] if sys.argv else ""
    return called if called.endswith("/veo") else "veo"


def _sign_in_hint(settings: Settings, first_sign_in: bool) -> str:
    """Where to sign in, from VEO_PUBLIC_URL; or, when it is unset, that and what to set."""
    url = f"{settings.public_url}/login"
    if "public_url" in settings.model_fields_set:
        if first_sign_in:
            return _("Sign in at %(url)s; a new password is required at first sign-in.") % {"url": url}
        return _("Sign in at %(url)s.") % {"url": url}
    return _(
        "VEO_PUBLIC_URL is not set, so veo assumes %(url)s. If people reach veo at another "
        "address, set VEO_PUBLIC_URL to it (for example https://support.example.org) and sign in there."
    ) % {"url": url}


def _print_one_time(email: str, password: str) -> None:
    email_label, password_label = _("e-mail"), _("one-time password")  # outside f-strings: pybabel
    print(f"  {email_label}: {email}")
    print(f"  {password_label}: {password}")


def _new_password(args: argparse.Namespace) -> tuple[str, bool]:
    """``--password-stdin``: the one read (checked, else exit 1 with why); else a one-time one.

    Returns the password and whether it came from stdin (a one-time one must be changed).
    """
    from_stdin = bool(args.password_stdin)
    password = _read_password() if from_stdin else passwords.generate_password()
    if from_stdin:
        try:
            service.check_password(password)
        except InvalidInput as exc:
            fail(PROG, exc.message)
    return password, from_stdin


def init(settings: Settings) -> int:
    db = _database(settings)

    def work(s: Session) -> str | None:
        if service.user_count(s) > 0:
            return None
        password = passwords.generate_password()
        service.create_user(
            s, INITIAL_ADMIN, name="Administrator", role="admin", password=password, must_change_password=True
        )
        return password

    try:
        with db.session() as s:
            password = work(s)
    finally:
        db.dispose()
    if password is None:
        print(_("Database is up to date; an administrator already exists (nothing changed)."))
        print(
            _(
                "Lost the administrator's password (it is shown only once, by the first run)? "
                "This prints a new one-time password:"
            )
        )
        print(f"  {_command()} admin set-password {INITIAL_ADMIN}")
        return 0
    print(_("Database created. First administrator:"))
    _print_one_time(INITIAL_ADMIN, password)
    print(_sign_in_hint(settings, first_sign_in=True))
    print(_("Then set up two-factor sign-in with an authenticator app: administrators must have it."))
    print(
        _("This password is shown only once; if it is lost, %(command)s prints a new one.")
        % {"command": f"{_command()} admin set-password {INITIAL_ADMIN}"}
    )
    return 0


def create_user(settings: Settings, args: argparse.Namespace) -> int:
    password, from_stdin = _new_password(args)
    db = _database(settings)
    try:
        with db.session() as s:
            service.create_user(
                s,
                args.email,
                name=args.name,
                role=args.role,
                password=password,
                must_change_password=not from_stdin,
                actor="cli",
            )
    except ApiError as exc:
        fail(PROG, exc.message)
    finally:
        db.dispose()
    print(
        _("Created %(role)s %(email)s.") % {"role": args.role, "email": service.normalize_email(args.email)}
    )
    if not from_stdin:
        one_time_label = _("one-time password")  # outside the f-string: pybabel must see it
        print(f"  {one_time_label}: {password}")
    print(_sign_in_hint(settings, first_sign_in=not from_stdin))
    return 0


def set_password(settings: Settings, args: argparse.Namespace) -> int:
    """A new password for an existing account: read from stdin, or a printed one-time one.

    Audited (``user.password_changed``, actor ``cli``) and every browser session and API token
    of the account is signed out, so whoever held the old password is out too.
    """
    password, from_stdin = _new_password(args)
    db = _database(settings)
    try:
        with db.session() as s:
            user = service.get_by_email(s, args.email)
            if user is None:
                fail(PROG, _("no account with the e-mail %(email)s") % {"email": args.email})
            service.set_password(s, user, password, must_change=not from_stdin, actor="cli")
            email = user.email
    finally:
        db.dispose()
    print(_("Password of %(email)s replaced; its browser sessions were signed out.") % {"email": email})
    if not from_stdin:
        _print_one_time(email, password)
    print(_sign_in_hint(settings, first_sign_in=not from_stdin))
    return 0


def reset_totp(settings: Settings, args: argparse.Namespace) -> int:
    db = _database(settings)
    try:
        with db.session() as s:
            user = service.get_by_email(s, args.email)
            if user is None:
                fail(PROG, _("no account with the e-mail %(email)s") % {"email": args.email})
            totp.reset(s, user, actor="cli")
            email = user.email
    finally:
        db.dispose()
    print(_("Two-factor sign-in of %(email)s reset; it was signed out everywhere.") % {"email": email})
    return 0


def _yes(value: str | None, current: bool) -> bool:
    return current if value is None else value == "yes"


def policy(settings: Settings, args: argparse.Namespace) -> int:
    """Without options, print the role's policy; with options, change only what they name."""
    caps = None
    if args.max_permissions is not None:
        try:
            caps = parse_capabilities(args.max_permissions.split(","))
        except UnknownCapability as exc:
            fail(
                PROG,
                _("unknown permission %(name)s; use: %(names)s")
                % {"name": exc.name, "names": ",".join(c.value for c in Capability)},
            )
    changing = caps is not None or any(
        value is not None for value in (args.totp_required, args.identity_before_control, args.resume_grace)
    )
    db = _database(settings)
    try:
        with db.session() as s:
            current = policies.policy_for_role(s, args.role)
            if changing:
                current = policies.set_policy(
                    s,
                    args.role,
                    capabilities=current.capabilities if caps is None else caps,
                    totp_required=_yes(args.totp_required, current.totp_required),
                    identity_before_control=_yes(
                        args.identity_before_control, current.identity_before_control
                    ),
                    resume_grace_seconds=args.resume_grace,
                    actor="cli",
                )
    except ApiError as exc:
        fail(PROG, exc.message)
    finally:
        db.dispose()
    yes, no = _("yes"), _("no")
    print(_("Role %(role)s:") % {"role": args.role})
    print(
        "  "
        + _("may request: %(list)s")
        % {"list": ",".join(c.value for c in ordered(current.capabilities)) or "-"}
    )
    print("  " + _("two-factor sign-in required: %(v)s") % {"v": yes if current.totp_required else no})
    print(
        "  "
        + _("identity confirmed before control: %(v)s")
        % {"v": yes if current.identity_before_control else no}
    )
    print(
        "  "
        + _("waits for a lost connection: %(duration)s")
        % {"duration": wording.duration(current.resume_grace_seconds)}
    )
    return 0


def sample_data(settings: Settings, args: argparse.Namespace) -> int:
    db = _database(settings)
    try:
        return sample_command.sample_data(
            PROG, settings, db, months=args.months, seed=args.seed, force=bool(args.force)
        )
    finally:
        db.dispose()


def main(argv: list[str]) -> int:
    use_terminal_language()
    args = parser().parse_args(argv)
    settings = settings_from(args, PROG)
    if args.action == "init":
        return init(settings)
    if args.action == "create-user":
        return create_user(settings, args)
    if args.action == "reset-totp":
        return reset_totp(settings, args)
    if args.action == "policy":
        return policy(settings, args)
    if args.action == "sample-data":
        return sample_data(settings, args)
    if args.action in device_cli.ACTIONS:
        return device_cli.main(PROG, settings, args)
    if args.action == "agent":  # files only: no database
        return agent_cli.main(PROG, settings, args)
    return set_password(settings, args)
