"""Who is asking, as the user reads it: never an empty name, never an English stand-in in Spanish.

The server sends the technician's name and the organization (``VEO_ORGANIZATION``); either may be
empty. Every window builds sentences such as "{technician} from {organization} wants to connect",
so an empty name would leave a hole ("Ana, de , quiere..."). :func:`with_display_names` fills
the holes once, with words in the user's language, before any window sees ``joined``.
"""

from __future__ import annotations

from collections.abc import Callable

from veo.protocol.signaling import Joined


def with_display_names(joined: Joined, gettext: Callable[[str], str]) -> Joined:
    """``joined`` with a technician and an organization a sentence can name."""
    _ = gettext
    technician = joined.technician_name.strip() or _("A technician")
    organization = joined.organization.strip() or _("your support department")
    if (technician, organization) == (joined.technician_name, joined.organization):
        return joined
    return joined.model_copy(update={"technician_name": technician, "organization": organization})
