"""E-mail composition, webhook signatures and rating values: pure functions, no server."""

from __future__ import annotations

import hmac
from typing import Any

import pytest

from veo.config import Settings
from veo.server.errors import InvalidInput
from veo.server.notify import rating, webhooks
from veo.server.notify.compose import compose
from veo.server.notify.mailer import build_message, message_id_for


def _settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"public_url": "https://support.example.org/", "organization": "ACME IT"}
    base.update(overrides)
    return Settings(**base)


def _payload(template: str, language: str | None, **context: Any) -> dict[str, Any]:
    ctx = {"ticket_id": 42, "ticket_title": "VPN <drops>", "requester_name": "Bob"}
    ctx.update(context)
    return {"template": template, "language": language, "context": ctx}


def test_links_use_the_public_address_and_html_is_escaped() -> None:
    mail = compose(_settings(), _payload("ticket_resolved", "en", resolution="Done", rating_path="/rate/tok"))
    assert "https://support.example.org/rate/tok" in mail.text
    assert 'href="https://support.example.org/rate/tok"' in mail.html
    assert "VPN &lt;drops&gt;" in mail.html and "VPN <drops>" in mail.text
    assert mail.subject == "Ticket #42 resolved: how did we do?"


def test_language_falls_back_to_the_server_language() -> None:
    mail = compose(
        _settings(language="es"), _payload("session_link", None, technician="Ana", code="1", join_path="/j")
    )
    assert mail.language == "es"
    assert mail.subject == "Asistencia remota: Ticket #42"
    assert "Código: 1" in mail.text
    english = compose(_settings(), _payload("session_link", "en", technician="Ana", code="1", join_path="/j"))
    assert english.language == "en" and "Code: 1" in english.text


def test_message_headers() -> None:
    settings = _settings(smtp_from="help@acme.example")
    mail = compose(settings, _payload("ticket_created", "es"))
    message = build_message(
        settings, "bob@example.org", mail.as_payload(), message_id_for(settings, "7.1796112123456789")
    )
    assert message["Message-ID"] == "<veo-outbox-7.1796112123456789@acme.example>"
    assert message["Content-Language"] == "es"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"


def test_smtp_tls_modes_are_exclusive() -> None:
    with pytest.raises(ValueError, match="not both"):
        Settings(smtp_starttls=True, smtp_ssl=True)


def test_signature_matches_a_hand_computed_hmac() -> None:
    expected = "sha256=" + hmac.new(b"secret", b'1700000000.{"a":1}', "sha256").hexdigest()
    assert webhooks.sign("secret", 1700000000, '{"a":1}') == expected
    assert webhooks.verify("secret", 1700000000, '{"a":1}', expected, now=1700000100)
    assert not webhooks.verify("secret", 1700000000, '{"a":2}', expected, now=1700000100)
    assert not webhooks.verify("secret", 1700000000, '{"a":1}', expected, now=1700000000 + 301)


@pytest.mark.parametrize("score", [1, 5, "3", " 4 "])
def test_good_scores(score: object) -> None:
    assert 1 <= rating.clean(score, None)[0] <= 5


@pytest.mark.parametrize("score", [0, 6, -1, "0", "abc", "", None, True, False, 2.5, [3]])
def test_bad_scores(score: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        rating.clean(score, "")
    assert set(caught.value.fields) == {"score"}


def test_comment_is_trimmed_and_limited() -> None:
    assert rating.clean(3, "  ok  ") == (3, "ok")
    with pytest.raises(InvalidInput):
        rating.clean(3, "x" * 2001)
