"""One rule for the text a device message carries: the protocol's, applied before it is built.

The wire messages (``veo.protocol.device``: ``ShortText``, ``AccessReason``) refuse every C0 and
C1 control character and DEL (``_printable``): a NUL cannot be stored by PostgreSQL, an escape or
a CSI (``\\x9b``) can redraw a terminal, and cp1252 text decoded as Latin-1 turns dashes and
apostrophes into C1 (``\\x96``, ``\\x92``). The server builds those messages from what people
typed and from what is stored (a ticket's title, an account's name, a group's name, the
organization): a value the model refuses would be an HTTP 500 on connect or a device closed after
it authenticated, forever. So the server uses the same rule:

- :func:`has_control` refuses input with a sentence where a person types it (a reason, a group's
  name, a token's label);
- :func:`clean` drops what is already stored, so nothing in the database can make a message fail.
"""

from __future__ import annotations

from veo.protocol.device import CONTROL_CHARACTERS

#: The characters ``veo.protocol.device._printable`` refuses: the protocol's own pattern.
CONTROL = CONTROL_CHARACTERS


def has_control(text: str) -> bool:
    """Whether ``text`` holds a character no device message may carry."""
    return CONTROL.search(text) is not None


def clean(text: str | None, limit: int) -> str:
    """``text`` as one line a device message takes: controls dropped, spaces folded, cut to ``limit``."""
    return " ".join(CONTROL.sub(" ", text or "").split())[:limit].strip()
