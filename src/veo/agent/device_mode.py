"""How a session on a managed device goes (issue 17), decided in one place.

A company device runs veo's service, which starts the session part (``veo agent
--device-session``) with a :class:`~veo.protocol.device.LaunchSpec` on its standard input once it
checked the technician's request against its own enrolment. Only that start gives the agent a
:class:`DeviceContext`; everything else about a device session follows from it here:

* no context (a personal agent, a code the user typed): ``personal``. The server's
  ``joined.device`` is ignored entirely: a server (or whoever took it over) cannot make a
  personal computer skip the consent dialog by saying it is managed.
* a context whose policy the server's ``joined`` does not confirm (no ``device`` at all, another
  policy, another session): ``refused``. The service and the server disagree about what this
  session is, so nothing starts and the user is told why (:data:`DEVICE_REFUSED`).
* ``ask``: veo's consent dialog at once, with the managed-computer line and the reason; nothing
  starts without Allow.
* ``notify`` and ``unattended``: ``automatic``. Consent goes out by itself with what was
  requested, the person at the computer sees at once who connected and why, and can stop it.

In every device mode the technician's "Codes match" is not waited for (the device is
authenticated by its key, the technician by their account; there may be nobody to read a code
to): ``Policy.device`` drops that wait, and the resume key goes to the console right after
consent. The verification code is still computed and shown in the ask dialog as information.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from veo.protocol.device import DevicePolicy, LaunchSpec
from veo.protocol.signaling import Joined

Mode = Literal["personal", "ask", "automatic", "refused"]

#: The end reason when the server's ``joined`` does not match what the device's service accepted.
DEVICE_REFUSED = "device_mismatch"


@dataclass(frozen=True)
class DeviceContext:
    """What the device's service accepted for this session (from its ``LaunchSpec``)."""

    policy: DevicePolicy
    reason: str
    technician: str
    organization: str
    device_name: str
    #: the session the service was asked to start (``""``: not checked)
    session_id: str = ""
    #: ``LaunchSpec.secret``: sent in the ``join`` (``device_secret``), without which the server
    #: does not redeem a device session's code; kept out of reprs (logs).
    secret: str = field(default="", repr=False)

    @classmethod
    def from_spec(cls, spec: LaunchSpec) -> DeviceContext:
        return cls(
            policy=spec.policy,
            reason=spec.reason,
            technician=spec.technician_name,
            organization=spec.organization,
            device_name=spec.device_name,
            session_id=spec.session_id,
            secret=spec.secret,
        )


def decide(device: DeviceContext | None, joined: Joined) -> Mode:
    """The mode of this session: see the module's docstring."""
    if device is None:
        return "personal"
    said = joined.device
    if said is None or said.policy != device.policy:
        return "refused"
    if device.session_id and joined.session_id != device.session_id:
        return "refused"
    return "ask" if device.policy == "ask" else "automatic"


def mismatch_detail(device: DeviceContext, joined: Joined) -> str:
    """For the log: how the server's word differs from the service's (codes, never shown to people)."""
    said = joined.device
    if said is None:
        return f"the server says this is no device session (the service accepted policy={device.policy})"
    if said.policy != device.policy:
        return f"the server says policy={said.policy}, the service accepted policy={device.policy}"
    return f"the server joined session {joined.session_id}, the service was asked for {device.session_id}"


__all__ = ["DEVICE_REFUSED", "DeviceContext", "Mode", "decide", "mismatch_detail"]
