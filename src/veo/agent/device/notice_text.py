"""The enrolment notice in words the person at the computer reads (terminal and window alike).

Says who manages the computer now, what that allows by the group's policy, how to see and stop
sessions, and who enrolled it. The policy said is the most a technician can do on this device:
a group set to ``unattended`` on a device not enrolled for it allows ``notify`` at most.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from veo.agent.device.state import effective_policy
from veo.agent.history import parse_time
from veo.agent.history_text import babel_locale, when_text
from veo.i18n import gettext_for
from veo.protocol.device import DevicePolicy, EnrolResponse


def command_name() -> str:
    """How the person types the agent here: the installed one-file build, or ``veo agent``."""
    return "veo-agent" if getattr(sys, "frozen", False) else "veo agent"


@dataclass(frozen=True)
class Notice:
    title: str
    paragraphs: tuple[str, ...]

    def text(self) -> str:
        return "\n\n".join([self.title, *self.paragraphs]) + "\n"


def policy_text(language: str, policy: DevicePolicy) -> str:
    _ = gettext_for(language).gettext
    if policy == "ask":
        return _(
            "Each time a technician wants to connect, you will be asked first. "
            "Nothing starts until you press Allow."
        )
    if policy == "notify":
        return _(
            "A technician may connect without asking first, for example when nobody is at the computer. "
            "You will see at once who connected and why, and you can stop the session at any moment."
        )
    return _(
        "A technician may connect without asking, even when nobody is at the computer. "
        "While someone is connected, a bar at the top of the screen always shows who and why, "
        "with a Stop button."
    )


def build(
    response: EnrolResponse,
    language: str,
    command: str | None = None,
    *,
    changed_from: DevicePolicy | None = None,
) -> Notice:
    """The enrolment notice; with ``changed_from`` (what the person was told before), the notice
    that the organization changed what its technicians may do here (the service shows it when
    the server says the group's policy changed: the device never does more than it announced)."""
    _ = gettext_for(language).gettext
    command = command or command_name()
    organization = response.organization.strip() or _("your support department")
    try:
        when = when_text(parse_time(response.enrolled_at), babel_locale(language))
    except ValueError:
        when = response.enrolled_at
    first = (
        _(
            "{organization} enrolled this computer in its remote support service as “{name}” "
            "(group: {group}). Its technicians can now connect to it from their console, "
            "always giving a reason, which is recorded."
        )
        if changed_from is None
        else _(
            "{organization} changed what its technicians may do on this computer (“{name}”, group: "
            "{group}). From now on:"
        )
    ).format(
        organization=organization,
        name=response.device_name,
        group=response.group,
    )
    paragraphs = (
        first,
        policy_text(language, effective_policy(response.policy, response.unattended)),
        _(
            "During a session, the bar at the top of the screen shows who is connected; its Stop "
            "button ends the session at once. To see every session held on this computer, and this "
            "enrolment, run: {command}"
        ).format(command=f"{command} --history"),
        _("Enrolled by {person} on {date}.").format(
            person=response.enrolled_by.strip() or organization, date=when
        ),
        _("To end the management of this computer, an administrator of this computer runs: {command}").format(
            command=f"sudo {command} unenrol"
        ),
    )
    title = (
        _("This computer is now managed by {organization}")
        if changed_from is None
        else _("{organization} changed what its technicians may do on this computer")
    ).format(organization=organization)
    return Notice(title=title, paragraphs=paragraphs)
