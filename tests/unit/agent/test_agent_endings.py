"""Each way a session can end gets its own coherent message, in English and Spanish."""

from __future__ import annotations

import pytest

from veo.agent.endings import Kind, ended_by_text, ending, kind
from veo.i18n import gettext_for

EN = gettext_for("en").gettext
ES = gettext_for("es").gettext
CASES = [
    ("user", "denied", Kind.DENIED),
    ("user", "user_stopped", Kind.STOPPED),
    ("user", "hotkey", Kind.STOPPED),
    ("technician", "technician_ended", Kind.TECHNICIAN),
    ("technician", "hangup", Kind.TECHNICIAN),
    ("system", "connection_lost", Kind.DROPPED),
    ("system", "agent_disconnected", Kind.DROPPED),
    ("system", "connection_failed", Kind.DROPPED),
    ("system", "sas_mismatch_user", Kind.MISMATCH),
    ("system", "sas_mismatch", Kind.MISMATCH),
    ("system", "sas_commitment_mismatch", Kind.MISMATCH),
    ("system", "expired", Kind.EXPIRED),
    ("system", "consent_timeout", Kind.EXPIRED),
    ("system", "capture_failed", Kind.FAILED),
    ("system", "codec_unsupported", Kind.CODEC),
    ("system", "account_deactivated", Kind.ACCESS),
    ("system", "signed_out_everywhere", Kind.ACCESS),
    ("system", "password_changed", Kind.ACCESS),
    ("system", "signed_out", Kind.ACCESS),
    ("system", "policy_changed", Kind.ACCESS),
    ("system", "role_changed", Kind.ACCESS),
    ("system", "totp_required", Kind.ACCESS),
    ("system", "resume_failed", Kind.RESUME_FAILED),
    ("system", "session_ended", Kind.GONE),
]


@pytest.mark.parametrize(("by", "reason", "expected"), CASES)
def test_codes_sort_into_endings(by: str, reason: str, expected: Kind) -> None:
    assert kind(by, reason) is expected


@pytest.mark.parametrize("gettext", [EN, ES])
@pytest.mark.parametrize("started", [True, False])
def test_every_ending_reads_as_sentences_without_codes(gettext: object, started: bool) -> None:
    headlines = set()
    for by, reason, _expected in CASES:
        said = ending(gettext, by, reason, "ACME IT", started)  # type: ignore[arg-type]
        for text in (said.headline, *said.body):
            assert text.endswith("."), text
            assert "_" not in text and (reason not in text or "_" not in reason), text
        headlines.add(said.headline)
    assert len(headlines) >= 6  # denied, stopped, technician, dropped, mismatch, expired, failed differ


def test_denied_never_says_the_technician_could_see() -> None:
    said = ending(EN, "user", "denied", "ACME IT", started=False)
    assert said.headline == "You said no to the request."
    assert said.body == ("Nobody connected and nothing was shared.",)
    assert not any("no longer" in text for text in said.body)


def test_the_ended_sessions_say_the_technician_is_gone() -> None:
    for by, reason in (("user", "user_stopped"), ("technician", "hangup"), ("system", "connection_lost")):
        said = ending(EN, by, reason, "ACME IT", started=True)
        assert "The technician can no longer see or control this computer." in said.body
        assert not said.stays
    assert ending(EN, "user", "user_stopped", "", True).headline == "You stopped the session."
    assert ending(ES, "technician", "hangup", "", True).headline == "El técnico terminó la sesión."


def test_mismatch_is_calm_says_nothing_was_shared_and_what_to_do() -> None:
    said = ending(EN, "system", "sas_mismatch_user", "ACME IT", started=False)
    assert said.stays
    assert said.headline == "The session was stopped to keep you safe."
    assert "Nothing was shared: nobody saw or controlled this computer." in said.body
    assert "call ACME IT on a phone number you already know" in said.body[-1]
    assert said.headline.upper() != said.headline  # no shouting
    after_allow = ending(EN, "system", "sas_mismatch", "ACME IT", started=True)
    assert "The screen sharing was stopped at once." in after_allow.body
    spanish = ending(ES, "system", "sas_mismatch_user", "ACME IT", started=False)
    assert spanish.headline == "La sesión se detuvo para protegerle."
    assert "llame a ACME IT" in spanish.body[-1]
    assert "su departamento de soporte" in ending(ES, "system", "sas_mismatch", "", False).body[-1]


def test_ended_before_allow_says_nothing_was_shared() -> None:
    said = ending(EN, "technician", "hangup", "ACME IT", started=False)
    assert said.headline == "The technician cancelled the request."
    assert "Nothing was shared." in said.body


def test_ended_by_in_spanish() -> None:
    assert (
        ended_by_text(ES, "user", "hotkey", "Ctrl+Alt+Mayús+Fin")
        == "usted, con las teclas Ctrl+Alt+Mayús+Fin"
    )
    assert ended_by_text(ES, "system", "connection_lost", "") == "se perdió la conexión"


def test_an_access_change_says_the_organization_ended_it_and_why_not_a_lost_connection() -> None:
    """The server ends a session whose technician was cut off (issue 12, item 5): the user hears
    who ended it and why, in their language, never "the connection was lost"."""
    said = ending(EN, "system", "account_deactivated", "ACME IT", started=True)
    assert said.kind is Kind.ACCESS and not said.stays
    assert said.headline == "ACME IT ended the session."
    assert said.body[0] == "The technician's account was deactivated."
    assert "The technician can no longer see or control this computer." in said.body
    assert ending(EN, "system", "password_changed", "", True).body[0] == (
        "The technician was signed out of the support system."
    )
    unnamed = ending(EN, "system", "policy_changed", "", True)
    assert unnamed.headline == "Your support department ended the session."
    before = ending(EN, "system", "signed_out_everywhere", "ACME IT", started=False)
    assert before.headline == "ACME IT withdrew the request." and "Nothing was shared." in before.body
    spanish = ending(ES, "system", "account_deactivated", "ACME IT", started=True)
    assert spanish.headline == "ACME IT terminó la sesión."
    assert spanish.body[0] == "La cuenta del técnico fue desactivada."
    assert ended_by_text(ES, "system", "policy_changed", "") == (
        "la organización, porque cambió el acceso del técnico"
    )


def test_a_connection_that_did_not_come_back_says_how_long_it_was_waited_for() -> None:
    said = ending(EN, "system", "connection_lost", "ACME IT", started=True, grace="2 minutes")
    assert said.kind is Kind.DROPPED and not said.stays
    assert said.body[0] == (
        "The connection to the technician was lost and did not come back within 2 minutes. "
        "The session has ended."
    )
    assert "The technician can no longer see or control this computer." in said.body
    # no grace known (an older server): the general sentence
    assert ending(EN, "system", "connection_lost", "", True).body[0] != said.body[0]


def test_resume_failures_and_an_already_ended_session_are_told_apart() -> None:
    failed = ending(EN, "system", "resume_failed", "ACME IT", started=True)
    assert failed.headline == "The session was stopped to keep you safe."
    assert "could not prove" in failed.body[0]
    gone = ending(EN, "system", "session_ended", "ACME IT", started=True)
    assert gone.headline == "This session has ended."
    assert ended_by_text(EN, "system", "resume_failed", "") != ended_by_text(
        EN, "system", "session_ended", ""
    )
