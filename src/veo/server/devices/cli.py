"""``veo admin device-group|enrolment-token|device``: company devices from the server's shell.

The same services as the API and the pages (``groups.py``, ``tokens.py``, ``service.py``), with
the actor ``cli`` in the audit log. ``enrolment-token create`` prints the token and the command
to run on the device once: only its SHA-256 is stored.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.config import Settings
from veo.protocol.device import DEVICE_POLICIES
from veo.server.auth.models import ROLES
from veo.server.cli_common import fail
from veo.server.db.base import utcnow
from veo.server.db.engine import Database
from veo.server.db.migrate import migrate
from veo.server.devices import groups, service, tokens
from veo.server.devices.api import enrol_command
from veo.server.devices.models import Device, DeviceGroup
from veo.server.errors import ApiError
from veo.server.lang import _, ngettext
from veo.server.web import wording

ACTOR = "cli"
ACTIONS = ("device-group", "enrolment-token", "device")
T = TypeVar("T")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("device-group", help=_("add or list device groups (policy and roles)"))
    group_actions = group.add_subparsers(dest="device_action", metavar="ACTION", required=True)
    add = group_actions.add_parser("add", help=_("add a device group"))
    add.add_argument("name")
    add.add_argument(
        "--policy", choices=DEVICE_POLICIES, default="ask", help=_("what a connection does (default ask)")
    )
    add.add_argument(
        "--roles",
        default="",
        metavar="LIST",
        help=_("comma-separated roles that may connect (%(roles)s); administrators always may")
        % {"roles": ",".join(ROLES)},
    )
    add.add_argument("--description", default="")
    group_actions.add_parser("list", help=_("show the device groups"))

    token = sub.add_parser("enrolment-token", help=_("create, list or revoke enrolment tokens"))
    token_actions = token.add_subparsers(dest="device_action", metavar="ACTION", required=True)
    create = token_actions.add_parser(
        "create", help=_("create a single-use enrolment token for a group (shown once)")
    )
    create.add_argument("group", help=_("the device group's name or id"))
    create.add_argument("--label", default="", help=_("what the token is for"))
    create.add_argument(
        "--unattended", action="store_true", help=_("devices enrolled with it may be reached unattended")
    )
    create.add_argument(
        "--hours",
        type=int,
        default=tokens.DEFAULT_TTL_HOURS,
        help=_("how long the token is valid (1 to %(most)d hours; default %(default)d)")
        % {"most": tokens.MAX_TTL_HOURS, "default": tokens.DEFAULT_TTL_HOURS},
    )
    token_actions.add_parser("list", help=_("show the enrolment tokens"))
    revoke = token_actions.add_parser("revoke", help=_("revoke an unused enrolment token"))
    revoke.add_argument("token_id")

    device = sub.add_parser("device", help=_("list enrolled devices or revoke one"))
    device_actions = device.add_subparsers(dest="device_action", metavar="ACTION", required=True)
    device_actions.add_parser("list", help=_("show the enrolled devices"))
    revoke_device = device_actions.add_parser("revoke", help=_("revoke a device's enrolment now"))
    revoke_device.add_argument("device_id")


def _run(prog: str, settings: Settings, work: Callable[[Session], T]) -> T:
    try:
        migrate(settings.effective_database_url, settings.data_dir)
    except Exception as exc:
        fail(prog, _("cannot open the database: %(error)s") % {"error": exc})
    db = Database(settings.effective_database_url)
    try:
        with db.session() as s:
            return work(s)
    except ApiError as exc:
        fail(prog, exc.message)
    finally:
        db.dispose()


def _find_group(s: Session, ref: str) -> DeviceGroup:
    found = s.get(DeviceGroup, int(ref)) if ref.isdigit() and len(ref) < 10 else None
    found = found or s.scalars(select(DeviceGroup).where(DeviceGroup.name == ref)).first()
    if found is None:
        raise ApiError(404, "group_not_found", _("No device group is named %(name)s.") % {"name": ref})
    return found


def _policy(code: str) -> str:
    return wording.device_policy(code)


def _group_add(prog: str, settings: Settings, args: argparse.Namespace) -> int:
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    group = _run(
        prog,
        settings,
        lambda s: groups.create_group(
            s, name=args.name, policy=args.policy, roles=roles, description=args.description, actor=ACTOR
        ),
    )
    print(
        _("Created device group %(name)s (id %(id)d): %(policy)s.")
        % {"name": group.name, "id": group.id, "policy": _policy(group.policy)}
    )
    return 0


def _group_list(prog: str, settings: Settings) -> int:
    found = _run(prog, settings, groups.list_groups)
    if not found:
        print(_("No device groups yet."))
    for g in found:
        print(
            f"{g.id}\t{g.name}\t{_policy(g.policy)}\t"
            + (_("roles: %(roles)s") % {"roles": ", ".join(g.roles) or "-"})
        )
    return 0


def _token_create(prog: str, settings: Settings, args: argparse.Namespace) -> int:
    def work(s: Session) -> tuple[str, str, str]:
        group = _find_group(s, args.group)
        token, secret = tokens.create_token(
            s,
            group_id=group.id,
            label=args.label,
            unattended=args.unattended,
            ttl_hours=args.hours,
            creator=ACTOR,
        )
        return token.id, secret, wording.when(token.expires_at)

    token_id, secret, until = _run(prog, settings, work)
    print(_("Enrolment token %(id)s, valid until %(when)s:") % {"id": token_id, "when": until})
    print(f"  {secret}")
    print(_("Run this on the device, as root:"))
    print(f"  {enrol_command(settings.public_url, secret)}")
    print(_("The token is shown only now and works once."))
    return 0


def _token_list(prog: str, settings: Settings) -> int:
    now = utcnow()
    found = _run(
        prog,
        settings,
        lambda s: [
            (t.id, t.group.name, t.label, tokens.status(t, now), t.unattended) for t in tokens.list_tokens(s)
        ],
    )
    if not found:
        print(_("No enrolment tokens yet."))
    for token_id, group, label, state, unattended in found:
        extra = "\t" + _("unattended") if unattended else ""
        print(f"{token_id}\t{group}\t{wording.token_status(state)}\t{label}{extra}")
    return 0


def _token_revoke(prog: str, settings: Settings, args: argparse.Namespace) -> int:
    _run(prog, settings, lambda s: tokens.revoke_token(s, args.token_id, actor=ACTOR))
    print(_("Enrolment token %(id)s revoked.") % {"id": args.token_id})
    return 0


def _device_list(prog: str, settings: Settings) -> int:
    now = utcnow()

    def work(s: Session) -> list[tuple[str, str, str, str, str]]:
        rows = []
        for d in s.scalars(select(Device).order_by(Device.name, Device.id)).unique():
            if d.revoked_at is not None:
                state = _("revoked")
            elif service.is_online(d, now):
                state = _("online")
            else:
                state = _("offline")
            rows.append((d.id, d.name, d.group.name, state, d.os_user))
        return rows

    found = _run(prog, settings, work)
    if not found:
        print(_("No devices enrolled yet."))
    for row in found:
        print("\t".join(row))
    return 0


def _device_revoke(prog: str, settings: Settings, args: argparse.Namespace) -> int:
    """Revoke and end the device's live sessions in one transaction. The shell reaches no node:
    each node finds the revocation at its next presence flush (every minute) and then closes the
    device's socket and tells the peers of the ended sessions it holds (``line.flush_now``)."""

    def work(s: Session) -> tuple[str, int]:
        device = service.revoke_device(s, args.device_id, by="server", actor=ACTOR)
        return device.name, len(service.end_live_sessions(s, device.id))

    name, ended = _run(prog, settings, work)
    print(
        _("Device %(name)s revoked; it is refused from now on and forgets its enrolment when it connects.")
        % {"name": name}
    )
    if ended:
        print(
            ngettext(
                "%(count)d session on it was ended; its codes no longer work.",
                "%(count)d sessions on it were ended; their codes no longer work.",
                ended,
            )
            % {"count": ended}
        )
        print(
            _(
                "A connected agent and its consoles learn it within a minute, when the server next "
                "checks; a console whose agent is away shows it when it is reloaded."
            )
        )
    return 0


def main(prog: str, settings: Settings, args: argparse.Namespace) -> int:
    what, action = args.action, args.device_action
    if what == "device-group":
        return _group_add(prog, settings, args) if action == "add" else _group_list(prog, settings)
    if what == "enrolment-token":
        if action == "create":
            return _token_create(prog, settings, args)
        if action == "revoke":
            return _token_revoke(prog, settings, args)
        return _token_list(prog, settings)
    if action == "revoke":
        return _device_revoke(prog, settings, args)
    return _device_list(prog, settings)
