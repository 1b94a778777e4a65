"""What a join code looks like: the one rule for everything that reads, checks or shows one.

A join code (and a browser share's continuation code) is 9 digits a person reads over the
phone and types back: ``123 456 789``, ``123-456-789`` and ``123456789`` are the same code.
The agent's code window and ``--code``, the ``join`` message's validator, the server that draws
codes, its pages and e-mails, and the join page's script all ask this module, so a change to
the rule is made once. It lives in the protocol because agent and server both import it
(``veo.agent`` never imports ``veo.server``). The join page's JavaScript does not restate the
rule: the page renders :data:`SEPARATORS`, :data:`PATTERN` and :data:`GROUP` into ``data-``
attributes and the script reads them.

Drawing codes and storing them as keyed digests stay in ``server/sessions/codes.py`` and
``code_secret.py``; this module knows only the shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: How many digits a code has: 10^9 values.
DIGITS = 9
#: Codes are shown in groups of this many digits, separated by a space.
GROUP = 3
#: What a person may type between the digits: any whitespace and dashes. One regular expression
#: for Python and the join page's JavaScript alike (``\s`` is Unicode whitespace in both).
SEPARATORS = r"[\s-]"
#: A code once the separators are gone (``^``/``$`` as JSON Schema and JavaScript read them).
PATTERN = rf"^[0-9]{{{DIGITS}}}$"
#: The longest a form field needs to be for a code as displayed: the digits and one separator
#: between groups (``maxlength``).
MAX_TYPED = DIGITS + (DIGITS - 1) // GROUP

_SEPARATORS = re.compile(SEPARATORS)


def digits_of(text: str) -> str:
    """``" 123-456 789 "`` -> ``"123456789"``: the separators gone, nothing checked.

    The server digests what a client sent this way, so a code typed with spaces finds its
    session; whether it is a code at all is :func:`normalise`'s question.
    """
    return _SEPARATORS.sub("", text)


def is_valid(code: str) -> bool:
    """True for a code as stored and sent: exactly :data:`DIGITS` ASCII digits, nothing else."""
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def normalise(text: str) -> str | None:
    """What a person typed as the code it means (``"123 456 789"`` -> ``"123456789"``), or ``None``.

    Spaces and dashes anywhere are ignored; anything else, or another number of digits, is not
    a code. Only ASCII digits count: a code is never written with other scripts' digits.
    """
    digits = digits_of(text)
    return digits if is_valid(digits) else None


def display(code: str | None) -> str:
    """``"123456789"`` -> ``"123 456 789"``: how pages, e-mails and the agent show a code.

    Empty for no code (a session whose code was redeemed or expired has none to show).
    """
    if not code:
        return ""
    return " ".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


#: The code every form shows as its placeholder and every explanation as its example.
EXAMPLE = display("123456789")


def format_text(gettext: Callable[[str], str]) -> str:
    """The sentence for something that is not a code, in the reader's language.

    Takes the reader's ``gettext`` (the agent's, or the server's request-language ``_``) like
    ``refusals.py`` takes a catalog, so the agent, its ``--code`` option and the join page say
    the same words.
    """
    _ = gettext
    return _("The code has 9 digits, for example 123 456 789.")
