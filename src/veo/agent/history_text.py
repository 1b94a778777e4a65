"""The local session history in words a non-technical person reads: dates in their locale (Babel).

Shared by the history window (``ui/history.py``) and ``veo agent --history --print``, so both say
the same. Times are stored in UTC and shown in this computer's time zone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format
from babel.lists import format_list

from veo import durations
from veo.agent import endings
from veo.agent.device.device_history import DeviceEvent, DeviceHistoryRead
from veo.agent.history import HistoryEntry, HistoryRead, duration_seconds, parse_time
from veo.agent.hotkey.base import STOP_HOTKEY_LABEL, stop_hotkey_label
from veo.i18n import N_, gettext_for, normalize

Gettext = Callable[[str], str]


def babel_locale(language: str) -> Locale:
    """The system's locale (e.g. ``es_MX``) when it speaks ``language``, else ``language`` itself."""
    for var in ("LC_ALL", "LC_TIME", "LANG"):
        value = os.environ.get(var)
        if not value or value in ("C", "POSIX"):
            continue
        if normalize(value) == language:
            try:
                return Locale.parse(value.split(".")[0].split("@")[0], sep="_")
            except (UnknownLocaleError, ValueError):
                break
        break
    return Locale.parse(language)


def when_text(moment: datetime, locale: Locale, zone: tzinfo | None = None) -> str:
    """``Tuesday, November 24, 2026, 2:03 PM`` / ``martes, 24 de noviembre de 2026, 14:03``."""
    local = moment.astimezone(zone)
    date = format_date(local, format="full", locale=locale)
    time = format_time(local, format="short", tzinfo=local.tzinfo, locale=locale)
    pattern = str(get_datetime_format("long", locale=locale)).replace("'", "")
    return pattern.replace("{0}", time).replace("{1}", date)


def duration_text(seconds: float, locale: Locale, language: str | None = None) -> str:
    """``45 seconds``, ``1 minute and 5 seconds``, ``1 hour and 5 minutes`` (plurals from the catalog)."""
    return durations.duration_text(seconds, gettext_for(language or str(locale.language)), locale)


def granted_text(gettext: Gettext, granted: list[str], reason: str, locale: Locale) -> str:
    _ = gettext
    if not granted:
        if reason == "denied":
            return _("nothing (you said no to the request)")
        return _("nothing (the session ended before you allowed anything)")
    names = {
        "view": _("see your screen"),
        "control": _("control your mouse and keyboard"),
        "clipboard": _("use your clipboard"),
        "files": _("transfer files"),
    }
    return format_list([names.get(p, p) for p in granted], locale=locale)


def ended_by_text(gettext: Gettext, by: str, reason: str, hotkey_label: str = STOP_HOTKEY_LABEL) -> str:
    """Who or what ended it, in a few words (``agent/endings.py`` sorts the codes)."""
    return endings.ended_by_text(gettext, by, reason, hotkey_label)


@dataclass(frozen=True)
class SessionSummary:
    """One past session, every field already in the reader's language."""

    when: str
    lines: tuple[str, ...]


def summarize(entry: HistoryEntry, language: str, zone: tzinfo | None = None) -> SessionSummary:
    _ = gettext_for(language).gettext
    locale = babel_locale(language)
    started = parse_time(entry.started_at)
    seconds = duration_seconds(entry)
    how_long = (
        _("How long: {duration}").format(duration=duration_text(seconds, locale, language))
        if seconds is not None
        else _("How long: the session did not start")
    )
    keys = stop_hotkey_label(gettext_for(language))
    lines: tuple[str, ...] = (
        _("Organization: {organization}").format(organization=entry.organization),
        _("Technician: {technician}").format(technician=entry.technician),
        _("Ticket #{number}: {title}").format(number=entry.ticket_id, title=entry.ticket_title),
        _("The technician could: {granted}").format(
            granted=granted_text(_, entry.granted, entry.reason, locale)
        ),
        how_long,
        _("Ended by: {who}").format(who=ended_by_text(_, entry.ended_by, entry.reason, keys)),
    )
    if entry.device_policy:
        lines += (
            _("Managed computer: {how}").format(how=policy_words(_, entry.device_policy)),
            _("Reason given: {reason}").format(reason=entry.access_reason),
        )
    return SessionSummary(when=when_text(started, locale, zone), lines=lines)


def policy_words(gettext: Gettext, policy: str) -> str:
    """What a managed device's policy meant for the person at it, in a few words."""
    _ = gettext
    words = {
        "ask": _("you were asked first"),
        "notify": _("started without asking; you were shown who and why"),
        "unattended": _("unattended access: started without asking, with the session bar shown"),
    }
    return words.get(policy, policy)


_PROBLEMS = {
    "no_desktop": N_("not started: nobody was signed in to a desktop"),
    "unattended_not_enrolled": N_("refused: this computer is not enrolled for unattended access"),
    "busy": N_("not started: another session was already running"),
    "launch_failed": N_("not started: the session could not start on the desktop"),
    "policy_not_told": N_(
        "refused: you had not yet been told this organization may do that; the notice was shown first"
    ),
}


def device_summary(event: DeviceEvent, language: str, zone: tzinfo | None = None) -> SessionSummary:
    """One line of the device's history (enrolment, a connection request, the unenrolment)."""
    _ = gettext_for(language).gettext
    locale = babel_locale(language)
    organization = event.organization or _("your support department")
    lines: tuple[str, ...]
    if event.kind == "enrolled":
        lines = (
            _("Enrolled: this computer is managed by {organization} as “{name}” (group: {group}).").format(
                organization=organization, name=event.device_name, group=event.group
            ),
            _("Enrolled by: {person}").format(person=event.enrolled_by or organization),
            _("What technicians may do: {how}").format(
                how=policy_words(
                    _, "notify" if event.policy == "unattended" and not event.unattended else event.policy
                )
            ),
            _("Server: {server}").format(server=event.server),
        )
    elif event.kind == "session_request":
        problem = _PROBLEMS.get(event.problem)
        outcome = (
            _(problem)
            if problem is not None
            else (
                _("started on {user}'s desktop").format(user=event.detail) if event.detail else _("started")
            )
        )
        lines = (
            _("Connection requested by {technician} ({organization})").format(
                technician=event.technician or _("A technician"), organization=organization
            ),
            _("Reason given: {reason}").format(reason=event.reason),
            *(
                (_("Ticket #{number}: {title}").format(number=event.ticket_id, title=event.ticket_title),)
                if event.ticket_id
                else ()
            ),
            _("Managed computer: {how}").format(how=policy_words(_, event.policy)),
            _("What happened: {outcome}").format(outcome=outcome),
        )
    elif event.kind == "policy_changed":
        shown = (
            _("Notice shown on {user}'s desktop").format(user=event.detail)
            if event.detail
            else _("No notice was shown: nobody was signed in to a desktop")
            if event.problem == "no_desktop"
            else _("The notice could not be shown on the desktop")
        )
        policy = "notify" if event.policy == "unattended" and not event.unattended else event.policy
        lines = (
            _("{organization} changed what its technicians may do: {how}").format(
                organization=organization, how=policy_words(_, policy)
            ),
            shown,
        )
    else:
        by = {
            "device": _("removed on this computer; the server revoked its key"),
            "server": _("revoked by the server; this computer forgot its key"),
            "local": _("removed on this computer only (the server could not be reached)"),
        }.get(event.detail, event.detail)
        lines = (_("No longer managed by {organization}: {how}").format(organization=organization, how=by),)
    return SessionSummary(when=when_text(parse_time(event.at), locale, zone), lines=lines)


def device_title(language: str) -> str:
    return gettext_for(language).gettext("This computer's management by your organization")


def device_notices(read: DeviceHistoryRead, language: str) -> list[str]:
    translations = gettext_for(language)
    _ = translations.gettext
    said: list[str] = []
    if read.error is not None:
        said.append(_("The device history could not be read ({error}).").format(error=read.error))
    if read.skipped:
        said.append(
            translations.ngettext(
                "{count} damaged line of the device history was skipped.",
                "{count} damaged lines of the device history were skipped.",
                read.skipped,
            ).format(count=read.skipped)
        )
    return said


def has_device_section(read: DeviceHistoryRead | None) -> bool:
    return read is not None and bool(read.events or read.skipped or read.error)


def notices(read: HistoryRead, language: str) -> list[str]:
    """What to say above the list: nothing recorded, the file unreadable, damaged lines skipped."""
    translations = gettext_for(language)
    _ = translations.gettext
    said: list[str] = []
    if read.error is not None:
        said.append(
            _("The session history on this computer could not be read ({error}).").format(error=read.error)
        )
    elif not read.entries and not read.skipped:
        said.append(_("No remote support sessions have been recorded on this computer yet."))
    if read.skipped:
        said.append(
            translations.ngettext(
                "{count} damaged line of the history file was skipped.",
                "{count} damaged lines of the history file were skipped.",
                read.skipped,
            ).format(count=read.skipped)
        )
    return said


def title(language: str) -> str:
    return gettext_for(language).gettext("Past remote support sessions on this computer")


def subtitle(language: str) -> str:
    return gettext_for(language).gettext(
        "Newest first. The agent keeps this list on this computer; the server cannot change it."
    )


def history_text(
    read: HistoryRead, language: str, zone: tzinfo | None = None, device: DeviceHistoryRead | None = None
) -> str:
    """The whole history as plain text (``veo agent --history --print``); the device's history
    (an enrolled computer) in a section of its own after the sessions."""
    blocks = [title(language), subtitle(language)]
    blocks += notices(read, language)
    for entry in read.entries:
        summary = summarize(entry, language, zone)
        blocks.append("\n".join([summary.when, *("  " + line for line in summary.lines)]))
    if device is not None and has_device_section(device):
        blocks.append(device_title(language))
        blocks += device_notices(device, language)
        for event in device.events:
            summary = device_summary(event, language, zone)
            blocks.append("\n".join([summary.when, *("  " + line for line in summary.lines)]))
    return "\n\n".join(blocks) + "\n"
