"""How a session ended, told to the user: one coherent message per kind of ending.

The session ends with ``(by, reason)`` codes (``user``/``denied``, ``technician``/``hangup``,
``system``/``connection_lost``, ``sas_mismatch_user`` ...). People read none of them: :func:`kind`
sorts them into the endings a user can tell apart, and :func:`ending` gives each its own
headline and explanation, so that a denied request never says "the technician can no longer
see" (nobody ever could) and the "codes did not match" warning is calm and says what to do.
Shared by the end notice (``ui/ended.py``) and the history (``history_text.py``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import get_args

from veo.agent.backend import Reason, reason_text
from veo.agent.device_mode import DEVICE_REFUSED
from veo.agent.events import MISMATCH_REASONS
from veo.protocol.endings import ACCESS_CHANGED_REASONS, ACCOUNT_DEACTIVATED, SIGNED_OUT_REASONS
from veo.protocol.signaling import CODEC_UNSUPPORTED_REASONS

Gettext = Callable[[str], str]

#: The agent itself had to stop (its screen capture, its WebRTC set-up, an unexpected error).
LOCAL_FAILURES = frozenset({"capture_failed", "negotiation_failed", "agent_error"})
#: The user stopped it: the bar's Stop, the stop keys, or closing the agent.
USER_STOPS = frozenset({"user_stopped", "hotkey", "agent_terminated", "page_closed"})
#: After a loss, new connections kept failing their resume proof (the server ends it).
RESUME_FAILED = "resume_failed"
#: The agent came back (``rejoin``) to a session the server had already ended.
SESSION_ENDED = "session_ended"
#: The connection did not come back within the grace period.
CONNECTION_LOST = "connection_lost"
#: A managed device's session (issue 17) that could not start: the device's service could not open
#: it on the desktop (``device_unavailable``) or did not answer the server in time
#: (``device_unreachable``); or this agent refused it (``device_mismatch``: the server's word
#: did not match what the device's service accepted).
DEVICE_UNAVAILABLE = "device_unavailable"
DEVICE_UNREACHABLE = "device_unreachable"
#: The organization revoked this computer's enrolment while the session ran.
DEVICE_REVOKED = "device_revoked"
DEVICE_REASONS = frozenset({DEVICE_UNAVAILABLE, DEVICE_UNREACHABLE, DEVICE_REFUSED, DEVICE_REVOKED})
#: The desktop itself said no after veo's Allow (its sharing window cancelled, the portal failed).
DESKTOP_REASONS: frozenset[str] = frozenset(get_args(Reason))


class Kind(enum.Enum):
    DENIED = "denied"
    STOPPED = "stopped"  # by the user
    TECHNICIAN = "technician"
    DROPPED = "dropped"  # the connection was lost
    MISMATCH = "mismatch"  # the verification codes did not match
    EXPIRED = "expired"  # the session's time ran out
    FAILED = "failed"  # a problem on this computer
    CODEC = "codec"  # the technician's browser cannot play the video
    ACCESS = "access"  # the organization changed the technician's access mid-session
    RESUME_FAILED = "resume_failed"  # new connections after a loss kept failing their proof
    GONE = "gone"  # the server had already ended the session when the agent came back
    DESKTOP = "desktop"  # the desktop's own sharing window was cancelled, or the desktop failed
    DEVICE = "device"  # a managed computer's session could not start (or was refused by it)


def kind(by: str, reason: str) -> Kind:
    """Which of the endings a user can tell apart ``(by, reason)`` is."""
    if reason in MISMATCH_REASONS:
        return Kind.MISMATCH
    if reason == RESUME_FAILED:
        return Kind.RESUME_FAILED
    if reason == SESSION_ENDED:
        return Kind.GONE
    if reason in DEVICE_REASONS:
        return Kind.DEVICE
    if reason == "denied":
        return Kind.DENIED
    if reason in DESKTOP_REASONS:
        return Kind.DESKTOP
    if reason in CODEC_UNSUPPORTED_REASONS:
        return Kind.CODEC
    if reason in ACCESS_CHANGED_REASONS:
        return Kind.ACCESS
    if "expired" in reason or "timeout" in reason:
        return Kind.EXPIRED
    if reason in LOCAL_FAILURES:
        return Kind.FAILED
    if by == "user" or reason in USER_STOPS:
        return Kind.STOPPED
    if by == "technician":
        return Kind.TECHNICIAN
    return Kind.DROPPED


@dataclass(frozen=True)
class Ending:
    """What the end notice says: a short headline, then plain sentences."""

    kind: Kind
    headline: str
    body: tuple[str, ...]

    @property
    def stays(self) -> bool:
        """A warning about interception stays until the user closes it; the others go by themselves."""
        return self.kind is Kind.MISMATCH


def ending(
    gettext: Gettext, by: str, reason: str, organization: str, started: bool, grace: str = ""
) -> Ending:
    """The end notice for ``(by, reason)``; ``started``: the user had pressed Allow; ``grace``:
    how long a lost connection was waited for, in words (``durations.duration_text``), if at all."""
    _ = gettext
    which = kind(by, reason)
    no_longer = _("The technician can no longer see or control this computer.")
    new_code = _("If you still need help, ask the technician for a new code.")
    if which is Kind.RESUME_FAILED:
        return Ending(
            which,
            _("The session was stopped to keep you safe."),
            (
                _(
                    "After the connection was lost, the new connection could not prove several "
                    "times that it came from the technician's browser. Nothing was shown to it."
                ),
                no_longer,
                new_code,
            ),
        )
    if which is Kind.GONE:
        return Ending(
            which,
            _("This session has ended."),
            (
                _("The support server had already ended it while the connection was lost."),
                no_longer if started else _("Nothing was shared."),
                new_code,
            ),
        )
    if which is Kind.DROPPED and started and reason == CONNECTION_LOST and grace:
        return Ending(
            which,
            _("The connection was lost, so the session ended."),
            (
                _(
                    "The connection to the technician was lost and did not come back within "
                    "{duration}. The session has ended."
                ).format(duration=grace),
                no_longer,
                new_code,
            ),
        )
    if which is Kind.DEVICE:
        return _device_ending(gettext, reason, started)
    if which is Kind.DESKTOP:  # the desktop's own words for what it did not allow
        said = reason_text(reason, _)  # type: ignore[arg-type]  # one of DESKTOP_REASONS
        if reason == "portal_cancelled":
            return Ending(which, _("You said no to the request."), (said, _("Nothing was shared.")))
        headline = (
            _("The session stopped because of a problem on this computer.")
            if started
            else _("The session could not be started on this computer.")
        )
        return Ending(which, headline, (said, new_code))
    if which is Kind.DENIED:
        return Ending(
            which, _("You said no to the request."), (_("Nobody connected and nothing was shared."),)
        )
    if which is Kind.MISMATCH:
        shared = (
            _("The screen sharing was stopped at once.")
            if started
            else _("Nothing was shared: nobody saw or controlled this computer.")
        )
        return Ending(
            which,
            _("The session was stopped to keep you safe."),
            (
                _(
                    "The verification code on your screen was not the same as the technician's. "
                    "Someone else may have been trying to connect."
                ),
                shared,
                _(
                    "If someone calls you about this, hang up. Then call {organization} on a "
                    "phone number you already know, for example from their website or your contract."
                ).format(organization=organization or _("your support department")),
            ),
        )
    if which is Kind.CODEC:
        return Ending(
            which,
            _("The technician's browser cannot show your screen."),
            (
                _("Nothing was shared.") if not started else _("The screen sharing was stopped."),
                _("The technician can try another browser and give you a new code."),
            ),
        )
    if which is Kind.ACCESS:
        return _access_ending(gettext, reason, organization, started)
    if not started:  # ended before Allow: nobody ever saw anything
        nothing = _("Nothing was shared.")
        headlines = {
            Kind.STOPPED: _("You cancelled the request."),
            Kind.TECHNICIAN: _("The technician cancelled the request."),
            Kind.DROPPED: _("The connection was lost before the session started."),
            Kind.EXPIRED: _("The request expired before you answered it."),
            Kind.FAILED: _("The session could not be started on this computer."),
        }
        return Ending(
            which, headlines[which], (nothing, new_code) if which is not Kind.STOPPED else (nothing,)
        )
    if which is Kind.STOPPED:
        return Ending(which, _("You stopped the session."), (no_longer,))
    if which is Kind.TECHNICIAN:
        return Ending(which, _("The technician ended the session."), (no_longer,))
    if which is Kind.EXPIRED:
        return Ending(which, _("The session reached its time limit and ended."), (no_longer, new_code))
    if which is Kind.FAILED:
        return Ending(
            which,
            _("The session stopped because of a problem on this computer."),
            (no_longer, new_code),
        )
    return Ending(which, _("The connection was lost, so the session ended."), (no_longer, new_code))


def _device_ending(gettext: Gettext, reason: str, started: bool) -> Ending:
    """A managed computer's session that could not start here, or that this computer refused."""
    _ = gettext
    effect = (
        _("The technician can no longer see or control this computer.")
        if started
        else _("Nothing was shared.")
    )
    if reason == DEVICE_REFUSED:
        return Ending(
            Kind.DEVICE,
            _("This computer refused the session."),
            (
                _(
                    "The support server described this session differently from what this computer's "
                    "veo service had accepted, so veo did not start it."
                ),
                effect,
                _("If this happens again, tell your IT department."),
            ),
        )
    if reason == DEVICE_REVOKED:
        return Ending(
            Kind.DEVICE,
            _("This computer is no longer managed, so the session ended."),
            (
                _("The organization removed this computer from its remote support service."),
                effect,
            ),
        )
    if reason == DEVICE_UNREACHABLE:
        said = _("This computer did not answer the support server in time.")
    else:
        said = _("veo could not open the session on this computer's desktop.")
    return Ending(Kind.DEVICE, _("The session could not be started on this computer."), (said, effect))


def access_reason(gettext: Gettext, reason: str) -> str:
    """What changed about the technician's access, in one sentence the user can follow."""
    _ = gettext
    if reason == ACCOUNT_DEACTIVATED:
        return _("The technician's account was deactivated.")
    if reason in SIGNED_OUT_REASONS:
        return _("The technician was signed out of the support system.")
    return _("The technician is no longer allowed to do what this session needed.")


def _access_ending(gettext: Gettext, reason: str, organization: str, started: bool) -> Ending:
    """The organization took the technician's access away: not the user's doing, nor the network's."""
    _ = gettext
    if started:
        headline = (
            _("{organization} ended the session.").format(organization=organization)
            if organization
            else _("Your support department ended the session.")
        )
        effect = _("The technician can no longer see or control this computer.")
    else:
        headline = (
            _("{organization} withdrew the request.").format(organization=organization)
            if organization
            else _("Your support department withdrew the request.")
        )
        effect = _("Nothing was shared.")
    return Ending(
        Kind.ACCESS,
        headline,
        (
            access_reason(gettext, reason),
            effect,
            _("If you still need help, ask the technician for a new code."),
        ),
    )


def ended_by_text(gettext: Gettext, by: str, reason: str, hotkey_label: str) -> str:
    """For the history's "Ended by:" line: who or what ended it, in a few words."""
    _ = gettext
    which = kind(by, reason)
    if which is Kind.MISMATCH:
        return _("stopped for your safety: the verification codes did not match")
    if which is Kind.DENIED or reason == "portal_cancelled":
        return _("you (you said no to the request)")
    if which is Kind.DESKTOP:
        return _("a problem on this computer")
    if which is Kind.DEVICE:
        if reason == DEVICE_REFUSED:
            return _("this computer, because the session did not match what it had accepted")
        return _("this computer's veo service, which could not start the session")
    if which is Kind.STOPPED:
        if reason == "hotkey":
            return _("you, with the keys {keys}").format(keys=hotkey_label)
        return _("you")
    if which is Kind.TECHNICIAN:
        return _("the technician")
    if which is Kind.EXPIRED:
        return _("the time limit")
    if which is Kind.FAILED:
        return _("a problem on this computer")
    if which is Kind.CODEC:
        return _("the technician's browser could not play the video")
    if which is Kind.ACCESS:
        return _("the organization, because the technician's access changed")
    if which is Kind.RESUME_FAILED:
        return _("stopped for your safety: the new connection could not prove itself")
    if which is Kind.GONE:
        return _("the support server, while the connection was lost")
    return _("the connection was lost")
