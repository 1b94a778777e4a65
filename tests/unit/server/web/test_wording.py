"""Stored codes become sentences in the reader's language; no code leaks into what people read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from veo.server.lang import set_language
from veo.server.web import wording

SERVER = Path(wording.__file__).parents[1]
#: A code a person must never read: snake_case, dotted event names, Python lists, ISO timestamps.
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b|\b(?:ticket|session|auth|user)\.[a-z_]+\b|\['|\d{4}-\d{2}-\d{2}T\d{2}")


@pytest.fixture(params=["en", "es"])
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    set_language(request.param)
    yield request.param
    set_language("en")


ACTION = r'"([a-z]+\.[a-z_]+)"'


def _recorded_actions() -> set[str]:
    """Every audit action the server's source records (``record(db, "x.y", ...)`` and friends, and
    ``audit(db, session, "x.y", ...)`` of the session modules)."""
    found: set[str] = set()
    for path in SERVER.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for call in re.finditer(r"\b(?:record|audit)\(", text):  # audit(): sessions/service.py
            head = text[call.end() : call.end() + 300]  # the action is the second argument
            found |= set(re.findall(ACTION, head))
    return found


def test_every_recorded_action_has_a_sentence(language: str) -> None:
    actions = _recorded_actions()
    assert {"ticket.created", "session.ended", "auth.login"} <= actions  # the scan finds them
    other = wording.action("no.such_action")
    missing = sorted(a for a in actions if wording.action(a) == other)
    assert not missing, f"audit actions without a sentence in veo.server.web.wording: {missing}"


@pytest.mark.parametrize(
    ("by", "reason", "english"),
    [
        ("technician", "technician_ended", "The technician ended the session."),
        ("user", "user_stopped", "The user stopped the session."),
        ("technician", "hangup", "The technician ended the session."),
        ("system", "agent_disconnected", "The user's computer disconnected."),
        ("user", "something_new", "The user ended the session."),
        (
            "technician",
            "capture_failed",
            "The technician ended the session. The user's screen could not be captured.",
        ),
        ("system", "account_deactivated", "The technician's account was deactivated during the session."),
        ("system", "policy_changed", "The technician's role no longer allows what this session was granted."),
    ],
)
def test_session_endings_read_as_sentences(by: str, reason: str, english: str) -> None:
    set_language("en")
    assert wording.session_ending(by, reason) == english
    set_language("es")
    spanish = wording.session_ending(by, reason)
    assert spanish != english and not CODE.search(spanish)
    set_language("en")


def test_event_details_are_words_not_data(language: str) -> None:
    requested = wording.event_details(
        "session.requested",
        {
            "requested": ["view", "control"],
            "identity_required": False,
            "code_expires_at": "2026-12-06T10:32:00+00:00",
        },
    )
    ended = wording.event_details(
        "session.ended", {"by": "user", "reason": "user_stopped", "duration_seconds": 18, "granted": ["view"]}
    )
    unknown = wording.event_details("ticket.updated", {"status": ["new", "open"], "weird_field": 1})
    closed = wording.event_details("session.permission_refused", {"asked": ["control"], "reason": "timeout"})
    for text in (requested, ended, unknown, closed):
        assert text and not CODE.search(text), text
    assert "10:32" in requested
    assert ("18 seconds" if language == "en" else "18 segundos") in ended
    assert ("before they answered" if language == "en" else "antes de que respondiera") in closed


def test_an_account_lock_says_whose_until_when_and_whether_the_account_exists(language: str) -> None:
    locked = wording.event_details(
        "auth.account_locked",
        {"user": "nobody@example.org", "until": "2026-12-06T10:47:00+00:00", "exists": False},
    )
    assert "nobody@example.org" in locked and "10:47" in locked, locked
    assert (
        "No account has this e-mail." if language == "en" else "Ninguna cuenta tiene este correo."
    ) in locked
    known = wording.event_details(
        "auth.account_locked", {"user": "ana@example.org", "until": "2026-12-06T10:47:00"}
    )
    assert (
        "ana@example.org" in known
        and "10:47" in known
        and "No account" not in known
        and "Ninguna" not in known
    )


def test_permissions_and_durations_in_the_language(language: str) -> None:
    both = wording.permissions(["view", "control"])
    assert both == (
        "see the screen and control mouse and keyboard"
        if language == "en"
        else "ver la pantalla y controlar ratón y teclado"
    )
    assert wording.duration(95) == (
        "1 minute and 35 seconds" if language == "en" else "1 minuto y 35 segundos"
    )
    assert wording.permissions([]) == ("nothing" if language == "en" else "nada")


def test_default_organization_is_translated_a_chosen_one_is_not(language: str) -> None:
    default = wording.organization(wording.DEFAULT_ORGANIZATION)
    assert default == ("veo support" if language == "en" else "soporte de veo")
    assert wording.organization("Ayuntamiento de Soria") == "Ayuntamiento de Soria"
    assert wording.organization(wording.DEFAULT_ORGANIZATION, "es") == "soporte de veo"


def test_iso_strings_become_dates(language: str) -> None:
    text = wording.when("2026-01-15T09:05:00+00:00")
    assert ("Jan 15, 2026" if language == "en" else "15 ene 2026") in text and "T09" not in text
    assert wording.when("not a date") == "—"


def test_interruptions_and_resumes_read_as_sentences(language: str) -> None:
    """Issue 13: the audit page says what was lost, how it came back or why it was refused."""
    interrupted = wording.event_details(
        "session.interrupted",
        {
            "cause": "heartbeat",
            "link": "media",
            "grace_seconds": 120,
            "deadline": "2026-12-06T10:34:00+00:00",
        },
    )
    restarted = wording.event_details(
        "session.interrupted", {"cause": "server_start", "link": "server_restart"}
    )
    resumed = wording.event_details("session.resumed", {"verified_by": "proof", "seconds": 12})
    refused = wording.event_details(
        "session.resume_refused", {"reason": "bad_proof", "by": "console", "failures": 2}
    )
    lost = wording.event_details(
        "session.ended",
        {"by": "system", "reason": "connection_lost", "grace_seconds": 120, "duration_seconds": 300},
    )
    failed = wording.session_ending("system", "resume_failed")
    for text in (interrupted, restarted, resumed, refused, lost, failed):
        assert text and not CODE.search(text), text
    if language == "en":
        assert "2 minutes" in interrupted and "12 seconds" in resumed and "2 refusals" in refused
        assert "did not come back in time" in lost and "waited 2 minutes" in lost
        assert "The server restarted." in restarted
    else:
        assert "2 minutos" in interrupted and "12 segundos" in resumed and "2 rechazos" in refused
        assert "no volvió a tiempo" in lost and "esperó 2 minutos" in lost
        assert "El servidor se reinició." in restarted
    for action in (
        "session.interrupted",
        "session.resumed",
        "session.reverify_requested",
        "session.resume_refused",
    ):
        assert wording.action(action) != wording.action("no.such_action")
