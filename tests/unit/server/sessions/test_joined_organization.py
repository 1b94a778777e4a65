"""Who the consent dialog names: default names (organization, first account) in the user's language."""

from __future__ import annotations

from pathlib import Path

from veo.config import Settings
from veo.server.lang import set_language
from veo.server.sessions.join import joined_message
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Ticket


def _joined(tmp_path: Path, language: str, organization: str | None = None) -> str:
    extra = {"organization": organization} if organization else {}
    settings = Settings(data_dir=tmp_path, **extra)  # type: ignore[arg-type]
    session = RemoteSession(
        id="s-1", ticket_id=7, ticket=Ticket(id=7, title="VPN"), requested_permissions=["view"]
    )
    set_language(language)
    try:
        return joined_message(settings, session).organization
    finally:
        set_language("en")


def test_default_organization_follows_the_users_language(tmp_path: Path) -> None:
    assert _joined(tmp_path, "en") == "veo support"
    assert _joined(tmp_path, "es") == "soporte de veo"


def test_a_chosen_name_is_never_translated(tmp_path: Path) -> None:
    assert _joined(tmp_path, "es", "Ayuntamiento de Soria") == "Ayuntamiento de Soria"


def test_the_first_accounts_default_name_is_said_in_the_users_language(tmp_path: Path) -> None:
    from veo.server.auth.models import User

    settings = Settings(data_dir=tmp_path)
    admin = User(email="admin@localhost", name="Administrator", role="admin", password_hash="x")
    named = User(email="ana@example.org", name="Ana", role="technician", password_hash="x")
    for technician, spanish in ((admin, "Administrador"), (named, "Ana")):
        session = RemoteSession(
            id="s-1",
            ticket_id=7,
            ticket=Ticket(id=7, title="VPN"),
            technician=technician,
            requested_permissions=[],
        )
        set_language("es")
        try:
            assert joined_message(settings, session).technician_name == spanish
        finally:
            set_language("en")
