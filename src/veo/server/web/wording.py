"""Stored codes turned into sentences a person reads, in the request's language.

The database, the API, the audit CSV and the exports keep codes (``technician_ended``,
``ticket.created``, ``["view", "control"]``, ISO timestamps): they are stable and machines read
them. Pages and e-mails show what this module makes of them: a sentence in the reader's language,
numbers, dates and durations through Babel. The tables live here, in one place, so that every page
(ticket, list, history, audit log, the console's end screen) says the same thing for the same code.

Every function accepts codes it does not know and still returns words, never the code: a new
audit action or end reason added elsewhere reads as a generic sentence until it gets its own, and
``tests/unit/server/web/test_wording.py`` lists the actions the source records so that one
without a sentence is noticed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from babel.dates import format_datetime
from babel.lists import format_list
from babel.numbers import format_decimal

from veo.config import Settings
from veo.durations import duration_text
from veo.i18n import gettext_for
from veo.server.lang import _, get_language, ngettext
from veo.sizes import size_text

#: The organization name when the operator did not set VEO_ORGANIZATION.
DEFAULT_ORGANIZATION: str = Settings.model_fields["organization"].default


#: The name ``veo admin init`` gives the first account (``server/admin.py``): a role, not a name.
DEFAULT_ADMIN_NAME = "Administrator"


def person(name: str) -> str:
    """A person's name as stored, except the first account's default, which is said in the language."""
    return _("Administrator") if name == DEFAULT_ADMIN_NAME else name


def organization(name: str, language: str | None = None) -> str:
    """The organization's name as readers see it: the built-in default in their language.

    An operator who set ``VEO_ORGANIZATION`` sees exactly that name; the default ("veo support")
    is not a name but a description, so a Spanish page says "soporte de veo".
    """
    if name and name != DEFAULT_ORGANIZATION:
        return name
    return gettext_for(language).gettext("veo support") if language else _("veo support")


# --------------------------------------------------------------------------- numbers, dates, time


def number(value: int | float) -> str:
    """``1234`` as the reader writes it (``1,234`` / ``1.234``)."""
    return format_decimal(value, locale=get_language())


def when(value: datetime | str | None, fmt: str = "medium") -> str:
    """A moment in the reader's format, in UTC and saying so (the server does not know their zone)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return f"{format_datetime(value, format=fmt, tzinfo=UTC, locale=get_language())} UTC"


def duration(seconds: int | float | None) -> str:
    """A length of time as people say it ("18 seconds", "1 minute and 35 seconds").

    The same words as the agent's session history (:mod:`veo.durations`), so the user's record
    and the ticket agree.
    """
    if seconds is None:
        return "—"
    language = get_language()
    return duration_text(seconds, gettext_for(language), language)


def listing(items: Iterable[str]) -> str:
    """``a, b and c`` in the reader's language (Babel's list patterns)."""
    words = [w for w in items if w]
    return format_list(words, locale=get_language()) if words else "—"


# --------------------------------------------------------------------------- sessions


def permission(code: str) -> str:
    """What a permission lets the technician do, as the start form and the consent dialog say it."""
    names = {
        "view": _("see the screen"),
        "control": _("control mouse and keyboard"),
        "clipboard": _("clipboard"),
        "files": _("file transfer"),
    }
    return names.get(code, _("another permission"))


def permissions(codes: Iterable[str] | None) -> str:
    """``["view", "control"]`` → "see the screen and control mouse and keyboard"; "nothing" if empty."""
    chosen = [permission(str(c)) for c in codes or ()]
    return listing(chosen) if chosen else _("nothing")


def ended_by(code: str | None) -> str:
    names = {
        "technician": _("the technician"),
        "user": _("the user"),
        "system": _("veo"),
    }
    return names.get(code or "", _("veo"))


def end_reason(code: str | None) -> str:
    """Why a session ended, as a sentence ("The technician ended the session.")."""
    reasons = {
        "hangup": _("The session was ended from the console."),
        "technician_ended": _("The technician ended the session."),
        "ended": _("The session was ended."),
        "user_stopped": _("The user stopped the session."),
        "page_closed": _("The user closed the page."),
        "denied": _("The user did not allow the session."),
        "declined": _("The user did not allow the session."),
        "cancelled": _("The session was cancelled."),
        "agent_disconnected": _("The user's computer disconnected."),
        "connection_lost": _("The connection to the user's computer was lost and did not come back in time."),
        "resume_failed": _(
            "The connection to the user's computer could not be resumed: the new connection failed "
            "its security check too many times."
        ),
        "agent_error": _("veo on the user's computer ran into an error."),
        "capture_failed": _("The user's screen could not be captured."),
        "negotiation_failed": _(
            "The connection between the technician's browser and the user's computer could not be set up."
        ),
        "codec_unsupported": _(
            "The technician's browser cannot play the video the user's agent sends (H.264 or VP8)."
        ),
        "codec_unsupported_h264": _(
            "The technician's browser cannot play H.264 video, and the agent was started with --codec h264."
        ),
        "codec_unsupported_vp8": _(
            "The technician's browser cannot play VP8 video, and the agent was started with --codec vp8."
        ),
        # the user's desktop itself (Wayland, issue 14): its sharing refused, or a part missing
        "portal_failed": _("The user's desktop refused to share the screen."),
        "no_gstreamer": _(
            "The user's computer lacks the GStreamer PipeWire support needed to share this desktop."
        ),
        "no_portal": _(
            "The user's desktop does not offer screen sharing to applications "
            "(xdg-desktop-portal is missing)."
        ),
        # sessions ended at a server start before issue 13 (none is any more): older audit rows
        "server_restarted": _("The server restarted during the session."),
        "timeout": _("Nobody was active for too long."),
        "idle": _("Nobody was active for too long."),
        "sas_mismatch": _("The technician said the security codes did not match."),
        "sas_mismatch_user": _("The user said the security codes did not match."),
        "sas_commitment_mismatch": _("The security check failed: the connection may have been intercepted."),
        # the technician's access changed mid-session (issue 12): ended by veo, with the change
        "account_deactivated": _("The technician's account was deactivated during the session."),
        "signed_out_everywhere": _("The technician's account was signed out everywhere during the session."),
        "password_changed": _(
            "The technician's password was changed during the session, which signs them out everywhere."
        ),
        "signed_out": _("The technician's sign-in ended during the session."),
        "role_changed": _("The technician's role changed and no longer lets them run this session."),
        "policy_changed": _("The technician's role no longer allows what this session was granted."),
        "totp_required": _(
            "The technician's role now requires two-factor sign-in, which their account has not set up."
        ),
        # managed devices (issue 17): the device could not start the session part
        "device_unreachable": _("The device did not answer the connection request in time."),
        "device_revoked": _("The device's enrolment was revoked while the session ran."),
        "device_mismatch": _("The computer refused: the session did not match what its service accepted."),
        "device_unavailable": _(
            "The device could not start the session (nobody signed in, busy, or not enrolled for this "
            "kind of access)."
        ),
    }
    if not code:
        return ""
    return reasons.get(code, _("The session ended."))


#: Reasons whose sentence already says who ended the session.
_SELF_EXPLAINED = frozenset(
    {
        "technician_ended",
        "user_stopped",
        "page_closed",
        "denied",
        "declined",
        "sas_mismatch",
        "sas_mismatch_user",
    }
)


def session_ending(by: str | None, reason: str | None) -> str:
    """Who ended a session and why, in one or two sentences, without saying the same thing twice.

    ``("user", "user_stopped")`` → "The user stopped the session."; ``("technician", "hangup")``
    → "The technician ended the session."; ``("system", "agent_disconnected")`` → "The user's
    computer disconnected."
    """
    if reason in _SELF_EXPLAINED or (by == "system" and reason):
        return end_reason(reason)
    who = {
        "technician": _("The technician ended the session."),
        "user": _("The user ended the session."),
        "system": _("veo ended the session."),
    }.get(by or "", "")
    generic = _("The session ended.")
    if reason in (None, "", "hangup", "ended") or end_reason(reason) == generic:  # nothing to add
        return who or end_reason(reason) or generic
    return f"{who} {end_reason(reason)}".strip()


def identity_method(code: str | None) -> str:
    """How the technician confirmed who the user is."""
    names = {
        "email_link": _("join link sent to the requester's e-mail"),
        "phone_questions": _("verified by phone questions"),
        "managed_device": _("managed device of the user"),
        "not_verified": _("not verified"),
    }
    return names.get(code or "", _("not verified"))


def code_rejection(code: str | None) -> str:
    names = {
        "unknown": _("the code does not exist"),
        "expired": _("the code had expired"),
        "used": _("the code was already used"),
        "rate_limited": _("too many wrong codes from this address"),
        "too_many_joins": _("too many joins at the same time from this address"),
        "rejoin_refused": _("a reconnection to a session with a wrong or unknown session key"),
    }
    return names.get(code or "", _("the code was refused"))


def sign_in_refusal(code: str | None) -> str:
    """Why a sign-in was refused before any password was checked (``auth/sign_in_refusals.py``)."""
    if code == "locked":
        return _("the account was locked")
    return _("too many failed sign-ins from this address")


def refusal_summary(d: Mapping[str, object], name: Callable[[str | None], str] = code_rejection) -> str:
    """A window of refusals from one address (``sessions/refusal_log.py``): how many, why, when."""
    count = d.get("count")
    n = count if isinstance(count, int) else 0
    reasons = d.get("reasons")
    why = listing(
        f"{name(str(reason))} ({number(times)})"
        for reason, times in (reasons.items() if isinstance(reasons, Mapping) else [])
        if isinstance(times, int)
    )
    text = ngettext(
        "%(n)s more refused attempt between %(first)s and %(last)s: %(why)s.",
        "%(n)s more refused attempts between %(first)s and %(last)s: %(why)s.",
        n,
    ) % {
        "n": number(n),
        "first": when(str(d.get("first_at") or "")),
        "last": when(str(d.get("last_at") or "")),
        "why": why,
    }
    if d.get("other_addresses"):
        text = _("From many other addresses, not counted one by one.") + " " + text
    return text


def client_mode(code: str | None) -> str:
    """How the user joined, as a sentence."""
    if code == "browser":
        return _("From the browser, without installing anything (view only).")
    return _("With the veo program.")


# --------------------------------------------------------------------------- audit events


def action(code: str) -> str:
    """What happened, as a short sentence ("Ticket created")."""
    actions = {
        "ticket.created": _("Ticket created"),
        "ticket.updated": _("Ticket changed"),
        "ticket.comment_added": _("Reply or note added"),
        "ticket.attachment_added": _("File attached"),
        "ticket.rated": _("Requester rated the help"),
        "ticket.resolved": _("Ticket resolved"),
        "ticket.reply": _("Reply sent to the requester"),
        "session.requested": _("Remote session requested"),
        "session.beyond_policy": _("Session refused: beyond the role's permissions"),
        "session.link_emailed": _("Join link e-mailed"),
        "session.link": _("Join link e-mailed"),
        "session.code_rejected": _("Join code refused"),
        "session.joined": _("User joined with the code"),
        "session.negotiating": _("Connecting"),
        "session.consented": _("User allowed the session"),
        "session.denied": _("User did not allow the session"),
        "session.expired": _("Join code expired unused"),
        "session.control_paused": _("User paused control"),
        "session.control_resumed": _("User resumed control"),
        "session.sas_confirmed_by_technician": _("Technician confirmed the security code"),
        "session.sas_mismatch": _("Security codes did not match"),
        "session.identity_confirmed": _("User's identity recorded"),
        "session.ended": _("Session ended"),
        "session.note": _("Session note saved"),
        "session.rated": _("User rated the session"),
        "session.chat_attached": _("Chat transcript attached"),
        "session.sysinfo_attached": _("System information attached"),
        "session.continuation_issued": _("Code to continue with the veo program issued"),
        "session.upgraded": _("Browser share continued in the veo program"),
        "session.permission_requested": _("Technician asked for another permission"),
        "session.permission_granted": _("User allowed another permission"),
        "session.permission_refused": _("User refused another permission"),
        "session.request_narrowed": _("Request cut to what the role allows now"),
        "session.interrupted": _("Connection to the user's computer lost"),
        "session.resumed": _("Connection to the user's computer resumed"),
        "session.reverify_requested": _("Security codes to be compared again"),
        "session.resume_refused": _("Reconnection refused: failed security check"),
        "auth.login": _("Signed in"),
        "auth.logout": _("Signed out"),
        "auth.login_failed": _("Sign-in failed"),
        "auth.login_locked": _("Sign-in refused: account locked"),
        "auth.login_throttled": _("Sign-in refused: too many attempts"),
        "auth.login_refusals": _("Refused sign-ins, counted together"),
        "auth.account_locked": _("Account locked after failed sign-ins"),
        "auth.totp_enrolled": _("Two-factor sign-in turned on"),
        "auth.totp_failed": _("Wrong two-factor code"),
        "auth.totp_reset": _("Two-factor sign-in reset"),
        "auth.recovery_code_used": _("Recovery code used"),
        "auth.token_issued": _("API token issued"),
        "auth.signed_out_everywhere": _("Signed out everywhere"),
        "user.created": _("Account created"),
        "user.activated": _("Account reactivated"),
        "user.deactivated": _("Account deactivated"),
        "user.password_changed": _("Password changed"),
        "user.role_changed": _("Role changed"),
        "policy.changed": _("Role permissions changed"),
        "category.created": _("Category created"),
        "sample.generated": _("Sample data added"),
        "category.renamed": _("Category renamed"),
        "category.deleted": _("Category deleted"),
        "webhook.created": _("Webhook added"),
        "webhook.deleted": _("Webhook removed"),
        "pilot.created": _("Pilot started"),
        "pilot.deleted": _("Pilot deleted"),
        "audit.checkpoint": _("Audit log checkpoint signed"),
        "device.group_created": _("Device group created"),
        "device.group_changed": _("Device group changed"),
        "device.token_created": _("Enrolment token created"),
        "device.token_revoked": _("Enrolment token revoked"),
        "device.enrol_refused": _("Device enrolment refused"),
        "device.enrolled": _("Device enrolled"),
        "device.revoked": _("Device enrolment revoked"),
        "device.auth_refused": _("Device connection refused"),
        "device.connect_refused": _("Connection to a device refused"),
        "device.replaced": _("Device connected from another place"),
        "session.device_launch_failed": _("The device could not start the session"),
    }
    return actions.get(code, _("Other event"))


def actor(value: str | None) -> str:
    """Who acted: a person's e-mail as is, the built-in actors in words."""
    names = {
        "agent": _("the user's computer"),
        "system": _("veo"),
        "requester": _("the requester"),
        "anonymous": _("someone not signed in"),
        "device": _("a managed device"),
        "cli": _("the server's command line"),
    }
    if not value:
        return "—"
    return names.get(value, value)


def device_policy(code: str | None) -> str:
    """What a connection to a managed device does, in words."""
    names = {
        "ask": _("ask the person at the device"),
        "notify": _("start and notify the person at the device"),
        "unattended": _("unattended"),
    }
    return names.get(code or "", code or "—")


def token_status(code: str) -> str:
    """An enrolment token's state."""
    names = {
        "active": _("active"),
        "used": _("used"),
        "expired": _("expired"),
        "revoked": _("revoked"),
    }
    return names.get(code, code)


def enrol_refusal(code: str | None) -> str:
    """Why an enrolment token was refused (``device.enrol_refused``'s ``reason``)."""
    names = {
        "unknown": _("the token is not known"),
        "used": _("the token was already used"),
        "expired": _("the token had expired"),
        "revoked": _("the token was revoked"),
    }
    return names.get(code or "", _("the token was refused"))


def device_auth_refusal(code: str | None) -> str:
    """Why a device's connection was refused (``device.auth_refused``'s ``reason``)."""
    names = {
        "unknown_device": _("the device is not enrolled"),
        "revoked": _("the device's enrolment was revoked"),
        "bad_signature": _("the device's signature was wrong"),
        "challenge_expired": _("the device answered too late"),
        "malformed": _("the device sent something unreadable"),
    }
    return names.get(code or "", _("the device was refused"))


def device_launch_problem(code: str | None) -> str:
    """Why the device could not start the session part (``session_launch``'s ``problem``)."""
    names = {
        "no_desktop": _("nobody's desktop was available on the device"),
        "unattended_not_enrolled": _("the device was not enrolled for unattended access"),
        "busy": _("the device was already in a session"),
        "launch_failed": _("veo could not be started on the device's desktop"),
        "policy_not_told": _(
            "the person at the device had not yet been told of the group's changed policy; the "
            "device showed them the notice now, so connecting again works"
        ),
    }
    return names.get(code or "", _("the device could not start the session"))


def device_details(code: str, d: Mapping[str, object]) -> list[str]:
    """The details of a ``device.*`` event (and a device session's request and consent)."""
    from veo.server.devices import errors as device_errors

    parts: list[str] = []
    name = d.get("device_name") or d.get("name")
    if code in ("device.group_created", "device.group_changed"):
        after = d.get("after") if code == "device.group_changed" else d
        if isinstance(after, Mapping):
            parts.append(_("“%(title)s”.") % {"title": after.get("name", "")})
            parts.append(_("Policy: %(policy)s.") % {"policy": device_policy(str(after.get("policy", "")))})
            roles = after.get("roles")
            if isinstance(roles, list):
                parts.append(
                    _("Roles that may connect: %(roles)s.") % {"roles": listing(str(r) for r in roles) or "—"}
                )
    elif code in ("device.token_created", "device.token_revoked"):
        if d.get("group"):
            parts.append(_("Group: %(group)s.") % {"group": d["group"]})
        if d.get("label"):
            parts.append(_("“%(title)s”.") % {"title": d["label"]})
        if _yes(d.get("unattended")):
            parts.append(_("Allows unattended access."))
        if d.get("expires_at"):
            parts.append(_("Valid until %(time)s.") % {"time": when(str(d["expires_at"]), "short")})
    elif code == "device.enrol_refused":
        parts.append(_("Reason: %(why)s.") % {"why": enrol_refusal(str(d.get("reason", "")))})
        if name:
            parts.append(_("Device: %(name)s.") % {"name": name})
    elif code == "device.enrolled":
        if name:
            parts.append(_("Device: %(name)s.") % {"name": name})
        if d.get("group"):
            parts.append(_("Group: %(group)s.") % {"group": d["group"]})
        if _yes(d.get("unattended")):
            parts.append(_("Allows unattended access."))
    elif code == "device.revoked":
        if name:
            parts.append(_("Device: %(name)s.") % {"name": name})
        parts.append(
            _("Unenrolled at the device.") if d.get("by") == "device" else _("Revoked on the server.")
        )
    elif code == "device.auth_refused":
        if isinstance(d.get("count"), int):
            parts.append(refusal_summary(d, device_auth_refusal))
        else:
            parts.append(_("Reason: %(why)s.") % {"why": device_auth_refusal(str(d.get("reason", "")))})
    elif code == "device.replaced":
        if name:
            parts.append(_("Device: %(name)s.") % {"name": name})
        parts.append(
            _(
                "Its connection from %(old)s was replaced by one from %(new)s. If the device did not move, "
                "its key may be in use on another computer: revoke it and enrol it again."
            )
            % {"old": d.get("from", ""), "new": d.get("to", "")}
        )
    elif code == "device.connect_refused":
        if name:
            parts.append(_("Device: %(name)s.") % {"name": name})
        if d.get("mode"):
            parts.append(_("Mode: %(policy)s.") % {"policy": device_policy(str(d["mode"]))})
        parts.append(device_errors.message(str(d.get("code", ""))))
    elif code == "session.device_launch_failed":
        parts.append(_("Reason: %(why)s.") % {"why": device_launch_problem(str(d.get("problem", "")))})
    elif code in ("session.requested", "session.consented") and d.get("device_id"):
        if name:
            parts.append(_("Managed device: %(name)s.") % {"name": name})
        if d.get("policy"):
            parts.append(_("Mode: %(policy)s.") % {"policy": device_policy(str(d["policy"]))})
        if d.get("reason"):
            parts.append(_("Reason: %(why)s.") % {"why": d["reason"]})
        if _yes(d.get("automatic")):
            parts.append(_("Started without asking the person at the device."))
    return parts


def _yes(value: object) -> bool:
    return value is True or value == "true"


#: Events about one named thing, whose details say its name.
_NAMED_EVENTS = frozenset(
    {"category.created", "category.renamed", "category.deleted", "pilot.created", "pilot.deleted"}
)


def beyond_policy_text(lost: list[str]) -> str:
    """Granted by the user, but no longer allowed by the technician's role (issue 12, item 14)."""
    return _("Not recorded, the role no longer allows it: %(what)s.") % {"what": permissions(lost)}


def event_details(code: str, details: Mapping[str, object] | None) -> str:
    """The details of an audit event that matter to a reader, as a sentence (may be empty).

    Only known keys are described; the full record stays in the audit CSV and the API.
    """
    d = dict(details or {})
    parts: list[str] = []

    def perms(key: str) -> list[str] | None:
        value = d.get(key)
        return [str(v) for v in value] if isinstance(value, list) else None

    if code in ("session.requested", "session.beyond_policy"):
        asked = perms("requested")
        if asked is not None:
            parts.append(_("Asked to %(what)s.") % {"what": permissions(asked)})
        if code == "session.requested" and d.get("code_expires_at"):
            parts.append(
                _("The code is valid until %(time)s.") % {"time": when(str(d["code_expires_at"]), "short")}
            )
        if _yes(d.get("identity_required")):
            parts.append(_("The user's identity must be confirmed."))
        allowed = perms("allowed")
        if allowed is not None:
            parts.append(_("The role allows: %(what)s.") % {"what": permissions(allowed)})
    elif code in ("session.permission_requested", "session.permission_granted", "session.permission_refused"):
        asked = perms("asked")
        if asked is not None:
            parts.append(_("Asked to %(what)s.") % {"what": permissions(asked)})
        granted, refused = perms("granted"), perms("refused")
        if granted:
            parts.append(_("Allowed to %(what)s.") % {"what": permissions(granted)})
        if refused:
            parts.append(_("Not allowed: %(what)s.") % {"what": permissions(refused)})
        if d.get("reason") == "unanswered":
            parts.append(_("The user did not answer."))
        elif d.get("reason") == "timeout":
            parts.append(_("The question closed on the user's screen before they answered."))
        lost = perms("beyond_policy")
        if lost:
            parts.append(beyond_policy_text(lost))
    elif code == "session.request_narrowed":
        before, after = perms("before"), perms("after")
        if before is not None:
            parts.append(_("Issued to %(what)s.") % {"what": permissions(before)})
        if after is not None:
            parts.append(_("Cut to %(what)s when the user joined.") % {"what": permissions(after)})
    elif code == "session.joined":
        parts.append(client_mode(str(d.get("mode", ""))))
    elif code == "session.consented":
        granted = perms("granted")
        if granted is not None:
            parts.append(_("Allowed to %(what)s.") % {"what": permissions(granted)})
        if "sas_confirmed" in d:
            parts.append(
                _("The user confirmed that the security codes match.")
                if _yes(d.get("sas_confirmed"))
                else _("Security codes not compared yet.")
            )
    elif code == "session.ended":
        parts.append(session_ending(str(d.get("by") or ""), str(d.get("reason") or "")))
        lost = perms("beyond_policy")
        if lost:
            parts.append(beyond_policy_text(lost))
        grace = d.get("grace_seconds")
        if d.get("reason") == "connection_lost" and isinstance(grace, int):
            parts.append(_("veo waited %(duration)s for it.") % {"duration": duration(grace)})
        seconds = d.get("duration_seconds")
        if isinstance(seconds, int | float):
            parts.append(_("Lasted %(duration)s.") % {"duration": duration(seconds)})
    elif code == "session.code_rejected":
        if isinstance(d.get("count"), int):
            parts.append(refusal_summary(d))
        else:
            parts.append(_("Reason: %(why)s.") % {"why": code_rejection(str(d.get("reason", "")))})
    elif code in ("session.interrupted", "session.resumed", "session.resume_refused"):
        parts.extend(resume_details(code, d))
    elif code == "session.reverify_requested":
        parts.append(
            _("The technician's browser had no resume key; the user and the technician compare a new code.")
        )
    elif code == "session.sas_mismatch":
        reported = str(d.get("reported", ""))
        if reported == "sas_commitment_mismatch":
            parts.append(end_reason("sas_commitment_mismatch"))
        elif d.get("declared_by"):
            parts.append(_("Reported by %(who)s.") % {"who": ended_by(str(d["declared_by"]))})
    elif code == "session.identity_confirmed":
        parts.append(_("How: %(method)s.") % {"method": identity_method(str(d.get("method", "")))})
    elif code in ("session.rated", "ticket.rated"):
        score = d.get("score", d.get("rating"))
        if isinstance(score, int):
            parts.append(_("%(score)s of 5 stars.") % {"score": number(score)})
    elif code == "session.note":
        length = d.get("length")
        if isinstance(length, int):
            parts.append(ngettext("%(n)s character.", "%(n)s characters.", length) % {"n": number(length)})
    elif code == "session.chat_attached":
        lines = d.get("lines")
        if isinstance(lines, int):
            parts.append(ngettext("%(n)s message.", "%(n)s messages.", lines) % {"n": number(lines)})
    elif code == "session.link_emailed" and d.get("to"):
        parts.append(_("To %(address)s.") % {"address": d["to"]})
    elif code == "session.continuation_issued" and d.get("expires_at"):
        parts.append(_("Valid until %(time)s.") % {"time": when(str(d["expires_at"]), "short")})
    elif code == "ticket.comment_added":
        parts.append(_("Reply to the requester.") if _yes(d.get("public")) else _("Internal note."))
    elif code == "ticket.attachment_added" and d.get("name"):
        size = d.get("size")
        if isinstance(size, int):
            parts.append(_("%(name)s (%(size)s).") % {"name": d["name"], "size": file_size(size)})
        else:
            parts.append(f"{d['name']}.")
    elif code == "ticket.created":
        if d.get("title"):
            parts.append(_("“%(title)s”.") % {"title": d["title"]})
    elif code == "ticket.updated":
        fields = [ticket_field(str(k)) for k in d if k != "first_response_at"]
        if fields:
            parts.append(_("Changed: %(fields)s.") % {"fields": listing(fields)})
    elif code in (
        "user.created",
        "user.role_changed",
        "user.activated",
        "user.deactivated",
        "user.password_changed",
        "auth.totp_reset",
        "auth.signed_out_everywhere",
    ):
        if d.get("user"):
            parts.append(_("Account: %(user)s.") % {"user": d["user"]})
    elif code == "auth.recovery_code_used":
        left = d.get("remaining")
        if isinstance(left, int):
            parts.append(
                ngettext("%(n)s recovery code left.", "%(n)s recovery codes left.", left)
                % {"n": number(left)}
            )
    elif code == "auth.login_refusals":
        parts.append(refusal_summary(d, sign_in_refusal))
        emails = d.get("emails")
        if isinstance(emails, Mapping) and emails:
            tried = listing(
                f"{email} ({number(times)})" for email, times in emails.items() if isinstance(times, int)
            )
            parts.append(_("E-mails tried: %(emails)s.") % {"emails": tried})
        others = d.get("other_emails")
        if isinstance(others, int) and others:
            parts.append(
                ngettext(
                    "%(n)s more attempt with other e-mails.",
                    "%(n)s more attempts with other e-mails.",
                    others,
                )
                % {"n": number(others)}
            )
    elif code == "auth.account_locked":
        if d.get("user"):
            parts.append(_("Account: %(user)s.") % {"user": d["user"]})
        if d.get("until"):
            parts.append(_("Locked until %(when)s.") % {"when": when(str(d["until"]))})
        if d.get("exists") is False:
            # The sign-in answer does not tell an unknown e-mail from an account; the log does.
            parts.append(_("No account has this e-mail."))
    elif code in ("auth.login_failed", "auth.login_throttled", "auth.login_locked", "auth.totp_failed"):
        if d.get("email") or d.get("user"):
            parts.append(_("Account: %(user)s.") % {"user": d.get("email") or d.get("user")})
    elif code in _NAMED_EVENTS and d.get("name"):
        parts.append(_("“%(title)s”.") % {"title": d["name"]})
    if code.startswith("device.") or code == "session.device_launch_failed" or d.get("device_id"):
        parts.extend(device_details(code, d))
    return " ".join(parts)


def resume_details(code: str, d: Mapping[str, object]) -> list[str]:
    """The details of an interruption, a resume or a refused resume proof (``sessions/resuming.py``)."""
    parts: list[str] = []
    if code == "session.interrupted":
        links = {
            "media": _("The connection between the technician's browser and the user's computer was lost."),
            "signaling": _("The user's computer lost its connection to the server."),
            "server_restart": _("The server restarted."),
        }
        causes = {
            "heartbeat": _("Nothing was received on it for a few seconds."),
            "ice_failed": _("The network path failed."),
            "closed": _("The other end closed it."),
        }
        parts.append(links.get(str(d.get("link", "")), _("A connection was lost.")))
        if str(d.get("cause", "")) in causes:
            parts.append(causes[str(d["cause"])])
        grace = d.get("grace_seconds")
        if isinstance(grace, int):
            parts.append(
                _("The session waits %(duration)s for it, with the user's input frozen.")
                % {"duration": duration(grace)}
            )
    elif code == "session.resumed":
        how = {
            "proof": _("Both ends proved they hold the session's resume key."),
            "code": _("The user and the technician compared a new security code."),
            "connection_kept": _("The connection between the two ends had stayed up."),
            "rejoined": _("The user's computer came back before the session was allowed."),
        }
        parts.append(how.get(str(d.get("verified_by", "")), _("The connection came back.")))
        seconds = d.get("seconds")
        if isinstance(seconds, int):
            parts.append(_("After %(duration)s.") % {"duration": duration(seconds)})
    else:
        who = {"agent": _("the user's computer"), "console": _("the technician's browser")}
        why = {
            "bad_proof": _("The other end's proof of the resume key was wrong."),
            "missing_proof": _("The other end sent no proof of the resume key."),
        }
        parts.append(why.get(str(d.get("reason", "")), _("The other end's proof was refused.")))
        if str(d.get("by", "")) in who:
            parts.append(_("Refused by %(who)s.") % {"who": who[str(d["by"])]})
        failures = d.get("failures")
        if isinstance(failures, int):
            parts.append(
                ngettext("%(n)s refusal in this session.", "%(n)s refusals in this session.", failures)
                % {"n": number(failures)}
            )
    return parts


def file_size(size: int) -> str:
    """``2048`` → "2 kB" in the reader's language (the agent's file windows use the same rule)."""
    language = get_language()
    return size_text(size, gettext_for(language), language)


def ticket_field(field: str) -> str:
    """The name of a ticket field, as the history shows it."""
    labels = {
        "title": _("Title"),
        "description": _("Description"),
        "requester_name": _("Requester's name"),
        "requester_email": _("Requester's e-mail"),
        "requester_department": _("Department"),
        "priority": _("Priority"),
        "channel": _("Channel"),
        "category_id": _("Category"),
        "assignee_id": _("Assignee"),
        "status": _("Status"),
        "resolution_note": _("Resolution note"),
        "first_response_at": _("First response"),
    }
    return labels.get(field, _("Other field"))


# --------------------------------------------------------------------------- e-mail


def mail_event(code: str) -> str:
    """Which e-mail it was, as the ticket page lists the requester's messages."""
    names = {
        "ticket.created": _("Ticket received"),
        "ticket.reply": _("Reply"),
        "ticket.resolved": _("Ticket resolved"),
        "session.link": _("Join link for a remote session"),
        "ticket.rated": _("Rating"),
        "session.rated": _("Session rating"),
    }
    return names.get(code, _("Message"))


def webhook_event(code: str) -> str:
    """A webhook event as a sentence; the page shows its code beside it (the receiver gets the code)."""
    names = {
        "ticket.created": _("A ticket is created"),
        "ticket.reply": _("A reply is added to a ticket"),
        "ticket.resolved": _("A ticket is resolved"),
        "ticket.rated": _("A requester rates a ticket"),
        "session.rated": _("A user rates a remote session"),
    }
    return names.get(code, code)
