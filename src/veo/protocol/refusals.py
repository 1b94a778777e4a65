"""Why the server refused a join code, in words the person holding the code understands.

The server answers a refused ``join`` with ``error{code, retry_after}``; the codes are stable for
programs (:data:`REFUSAL_CODES`). The agent's code window (and its terminal with ``--code``) and
the join page say the same sentence for the same code, so the table lives here, in the contract
both sides share (``veo.agent`` never imports ``veo.server``). Like ``protocol/sysinfo.py`` it
takes the reader's catalog instead of choosing a language itself.
"""

from __future__ import annotations

import math
from typing import Protocol


class Catalog(Protocol):
    """What a ``gettext.NullTranslations`` offers: enough for sentences and plural forms."""

    def gettext(self, message: str, /) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int, /) -> str: ...


#: Refusals the user can act on; any other code gets :func:`refusal_text`'s general sentence.
REFUSAL_CODES = (
    "code_unknown",
    "code_expired",
    "code_used",
    "rate_limited",
    "too_many_joins",
    "join_timeout",
)


def wait_text(catalog: Catalog, seconds: int) -> str:
    """``30 seconds``, ``1 minute``, ``8 minutes``: how long to wait, rounded up to whole minutes."""
    if seconds < 60:
        n = max(1, seconds)
        return catalog.ngettext("{count} second", "{count} seconds", n).format(count=n)
    minutes = math.ceil(seconds / 60)
    return catalog.ngettext("{count} minute", "{count} minutes", minutes).format(count=minutes)


def refusal_text(catalog: Catalog, code: str, retry_after: int | None = None) -> str:
    """The sentence for a refused code: what happened and what to do next."""
    _ = catalog.gettext
    if code == "code_used":
        return _(
            "This code has already been used. Each code works only once: ask your technician for a new one."
        )
    if code == "code_expired":
        return _("This code has expired: codes work for 10 minutes. Ask your technician for a new one.")
    if code == "code_unknown":
        return _("This code does not exist. Check the 9 digits with your technician and try again.")
    if code == "rate_limited":
        if retry_after:
            return _("Too many wrong codes were tried. Please wait {wait} and try again.").format(
                wait=wait_text(catalog, retry_after)
            )
        return _("Too many wrong codes were tried. Please wait a few minutes and try again.")
    if code == "too_many_joins":  # refused at the door: nothing was wrong with the code, nor checked
        return _(
            "Too many connections from your network are joining at the same time. "
            "Please try again in a few seconds."
        )
    if code == "join_timeout":
        return _("The code did not reach the server in time. Please try again.")
    return _("The support server could not accept this code right now. Please try again in a moment.")


def refusal_strings(catalog: Catalog) -> dict[str, str]:
    """Every refusal for a page's JavaScript: ``{code: sentence}``, and the wait forms for ``rate_limited``.

    ``rate_limited.wait`` holds ``{wait}``; ``wait.second.one``/``.other`` and
    ``wait.minute.one``/``.other`` hold ``{count}`` (Spanish and English both have two forms).
    """
    _ = catalog.gettext
    strings = {code: refusal_text(catalog, code) for code in REFUSAL_CODES}
    strings["other"] = refusal_text(catalog, "")
    strings["rate_limited.wait"] = _("Too many wrong codes were tried. Please wait {wait} and try again.")
    for unit, (one, other) in {
        "second": ("{count} second", "{count} seconds"),
        "minute": ("{count} minute", "{count} minutes"),
    }.items():
        strings[f"wait.{unit}.one"] = catalog.ngettext(one, other, 1)
        strings[f"wait.{unit}.other"] = catalog.ngettext(one, other, 2)
    return strings
