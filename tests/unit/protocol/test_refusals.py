"""A refused join code is told with its specific reason, in the user's language."""

from __future__ import annotations

import pytest

from veo.i18n import gettext_for
from veo.protocol.refusals import REFUSAL_CODES, refusal_strings, refusal_text, wait_text

EN, ES = gettext_for("en"), gettext_for("es")


@pytest.mark.parametrize(
    ("code", "english", "spanish"),
    [
        ("code_used", "This code has already been used.", "Este código ya se usó."),
        ("code_expired", "This code has expired", "Este código ha caducado"),
        ("code_unknown", "This code does not exist.", "Este código no existe."),
        ("join_timeout", "did not reach the server in time", "no llegó a tiempo"),
        (
            "too_many_joins",
            "Too many connections from your network are joining at the same time.",
            "Demasiadas conexiones de su red están intentando entrar al mismo tiempo.",
        ),
        ("server_error", "could not accept this code right now", "no puede aceptar este código"),
    ],
)
def test_each_refusal_has_its_sentence(code: str, english: str, spanish: str) -> None:
    assert english in refusal_text(EN, code)
    assert spanish in refusal_text(ES, code)
    assert code not in refusal_text(EN, code)


@pytest.mark.parametrize(
    ("seconds", "english", "spanish"),
    [
        (1, "1 second", "1 segundo"),
        (45, "45 seconds", "45 segundos"),
        (60, "1 minute", "1 minuto"),
        (61, "2 minutes", "2 minutos"),
        (600, "10 minutes", "10 minutos"),
    ],
)
def test_how_long_to_wait(seconds: int, english: str, spanish: str) -> None:
    assert wait_text(EN, seconds) == english
    assert wait_text(ES, seconds) == spanish
    assert refusal_text(EN, "rate_limited", seconds) == (
        f"Too many wrong codes were tried. Please wait {english} and try again."
    )


def test_rate_limited_without_a_time_still_says_to_wait() -> None:
    assert "wait a few minutes" in refusal_text(EN, "rate_limited")


def test_a_join_refused_at_the_door_is_not_called_wrong_codes() -> None:
    """Too many joins in flight at once: no code was checked, so "too many wrong codes" would be false."""
    for catalog in (EN, ES):
        busy = refusal_text(catalog, "too_many_joins", 8)
        assert busy == refusal_text(catalog, "too_many_joins")  # "a few seconds", not minutes
        assert busy not in {refusal_text(catalog, "rate_limited", 8), refusal_text(catalog, "")}
    assert "wrong codes" not in refusal_text(EN, "too_many_joins")
    assert "try again in a few seconds" in refusal_text(EN, "too_many_joins")


def test_strings_for_the_join_page_hold_every_code() -> None:
    for catalog in (EN, ES):
        strings = refusal_strings(catalog)
        assert set(REFUSAL_CODES) <= set(strings)
        assert strings["code_used"] == refusal_text(catalog, "code_used")
        assert "{wait}" in strings["rate_limited.wait"]
    assert refusal_strings(ES)["wait.minute.one"] == "{count} minuto"
    assert refusal_strings(ES)["wait.minute.other"] == "{count} minutos"
