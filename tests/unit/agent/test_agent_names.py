"""Empty names from the server never leave a hole, or an English word, in the user's sentences."""

from __future__ import annotations

from veo.agent.names import with_display_names
from veo.i18n import gettext_for
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Joined

JOINED = Joined(
    session_id="s",
    organization="",
    technician_name=" ",
    ticket_id=1,
    ticket_title="Printer",
    requested=[Permission.VIEW],
    ice_servers=[],
)


def test_empty_names_are_said_in_the_users_language() -> None:
    _ = gettext_for("es").gettext
    named = with_display_names(JOINED, _)
    sentence = _("{technician} from {organization} wants to connect to this computer").format(
        technician=named.technician_name, organization=named.organization
    )
    assert sentence == "Un técnico, de su departamento de soporte, quiere conectarse a este equipo"
    english = with_display_names(JOINED, gettext_for("en").gettext)
    assert (english.technician_name, english.organization) == ("A technician", "your support department")


def test_real_names_are_kept() -> None:
    joined = JOINED.model_copy(update={"organization": "ACME IT", "technician_name": "Ana"})
    assert with_display_names(joined, gettext_for("es").gettext) is joined
