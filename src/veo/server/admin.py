"""``veo admin``: set up the database, manage accounts and role policies from the server's shell.

``reset-totp`` is the way back in for an administrator who lost their phone and their recovery
codes; ``policy`` prints a role's policy, or changes only the settings it is given.

One-time passwords are printed once and never stored in clear; the account must replace such a
password at first sign-in. ``--password-stdin`` lets automation set a password it already knows
(then no change is forced).
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session

from veo.config import Settings
from veo.server.auth import passwords, service, totp
from veo.server.auth.models import ROLES
from veo.server.cli_common import add_database_flags, fail, settings_from, use_terminal_language
from veo.server.db.engine import Database
from veo.server.db.migrate import migrate
from veo.server.errors import ApiError, InvalidInput
from veo.server.lang import _
from veo.server.policies import service as policies
from veo.server.policies.capabilities import Capability, UnknownCapability, ordered, parse_capabilities

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
    setpw = sub.add_parser("set-password", help=_("replace an account's password"))
    setpw.add_argument("email")
    setpw.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help=_("read the password from standard input"),
    )
    reset = sub.add_parser("reset-totp", help=_("turn off an account's two-factor sign-in (lost phone)"))
    reset.add_argument("email")
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
    return p


def _read_password() -> str:
    """The first line of stdin, without its line ending (a password may contain spaces)."""
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _database(settings: Settings) -> Database:
    try:
        migrate(settings.effective_database_url)
    except Exception as exc:
        fail(PROG, _("cannot open the database: %(error)s") % {"error": exc})
    return Database(settings.effective_database_url)


def _login_url(settings: Settings) -> str:
    return f"{settings.public_url}/login"


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
        return 0
    print(_("Database created. First administrator:"))
    email_label, password_label = _("e-mail"), _("password")  # outside f-strings: pybabel must see them
    print(f"  {email_label}:   {INITIAL_ADMIN}")
    print(f"  {password_label}: {password}")
    print(
        _("Sign in at %(url)s; you will be asked to choose a new password.") % {"url": _login_url(settings)}
    )
    print(_("Then set up two-factor sign-in with an authenticator app: administrators must have it."))
    print(_("This password is shown only once."))
    return 0


def create_user(settings: Settings, args: argparse.Namespace) -> int:
    from_stdin = bool(args.password_stdin)
    password = _read_password() if from_stdin else passwords.generate_password()
    if from_stdin:
        try:
            service.check_password(password)
        except InvalidInput as exc:
            fail(PROG, exc.message)
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
        print(
            _("Sign in at %(url)s; a new password is required at first sign-in.")
            % {"url": _login_url(settings)}
        )
    return 0


def set_password(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_password()
    try:
        service.check_password(password)
    except InvalidInput as exc:
        fail(PROG, exc.message)
    db = _database(settings)
    try:
        with db.session() as s:
            user = service.get_by_email(s, args.email)
            if user is None:
                fail(PROG, _("no account with the e-mail %(email)s") % {"email": args.email})
            service.set_password(s, user, password, actor="cli")
    finally:
        db.dispose()
    print(_("Password of %(email)s replaced; its browser sessions were signed out.") % {"email": user.email})
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
    changing = caps is not None or args.totp_required is not None or args.identity_before_control is not None
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
    return 0


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
    return set_password(settings, args)
