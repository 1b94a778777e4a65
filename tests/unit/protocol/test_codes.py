"""The one join-code rule (``veo/protocol/codes.py``): what is a code, how it is typed and shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veo.i18n import gettext_for
from veo.protocol import codes

CODE = st.text(alphabet="0123456789", min_size=codes.DIGITS, max_size=codes.DIGITS)
#: What people put between digits: spaces of every kind, tabs, line breaks and dashes.
SEPARATOR = st.text(alphabet=" \t\n\u00a0\u2009\u3000-", max_size=3)


def test_the_rule_itself() -> None:
    assert codes.DIGITS == 9 and codes.GROUP == 3
    assert codes.EXAMPLE == "123 456 789"
    assert codes.MAX_TYPED == len(codes.EXAMPLE) == 11
    assert codes.PATTERN == "^[0-9]{9}$"
    assert re.fullmatch(codes.PATTERN, "123456789") and not re.search(codes.PATTERN, "12345678")


@given(CODE)
def test_display_then_normalise_gives_the_code_back(code: str) -> None:
    shown = codes.display(code)
    assert re.fullmatch(r"\d{3} \d{3} \d{3}", shown)
    assert len(shown) == codes.MAX_TYPED
    assert codes.normalise(shown) == code
    assert codes.is_valid(code)


@given(CODE, st.lists(SEPARATOR, min_size=codes.DIGITS + 1, max_size=codes.DIGITS + 1))
def test_any_spacing_and_dashes_are_accepted(code: str, gaps: list[str]) -> None:
    typed = gaps[0] + "".join(digit + gap for digit, gap in zip(code, gaps[1:], strict=True))
    assert codes.normalise(typed) == code
    assert codes.digits_of(typed) == code


@given(st.text(alphabet="0123456789", max_size=20).filter(lambda s: len(s) != codes.DIGITS), SEPARATOR)
def test_other_lengths_are_refused(digits: str, gap: str) -> None:
    assert codes.normalise(digits) is None
    assert codes.normalise(gap.join(digits)) is None
    assert not codes.is_valid(digits)


@pytest.mark.parametrize(
    "text",
    [
        "12345678a",
        "123 456 78O",  # a letter O for a zero
        "123.456.789",
        "123_456_789",
        "+123456789",
        "١٢٣٤٥٦٧٨٩",  # Arabic-Indic digits: str.isdigit() says yes, a code never has them
        "１２３４５６７８９",  # fullwidth digits
        "¹²³⁴⁵⁶⁷⁸⁹",
        "",
        "   ",
    ],
)
def test_anything_but_ascii_digits_spaces_and_dashes_is_refused(text: str) -> None:
    assert codes.normalise(text) is None
    assert not codes.is_valid(codes.digits_of(text))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("123 456 789", "123456789"),
        ("123456789", "123456789"),
        (" 123-456-789 ", "123456789"),
        ("12345678", None),
        ("1234567890", None),
        ("12345678a", None),
        ("١٢٣٤٥٦٧٨٩", None),
        ("", None),
    ],
)
def test_what_the_agent_accepted_is_still_accepted(text: str, code: str | None) -> None:
    """The agent's own table (``agent/ui/code.py`` had the rule until it moved here)."""
    assert codes.normalise(text) == code


def test_digits_of_checks_nothing() -> None:
    """The server digests what it was sent: a wrong length still gets a (never matching) digest."""
    assert codes.digits_of(" 123-456 7 ") == "1234567"


def test_display_of_no_code_is_empty() -> None:
    assert codes.display(None) == ""
    assert codes.display("") == ""
    assert codes.display("012345678") == "012 345 678"


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_format_sentence_states_the_rule(language: str) -> None:
    """The sentence is translated prose: if the rule changes, this says the sentence must too."""
    text = codes.format_text(gettext_for(language).gettext)
    assert str(codes.DIGITS) in text and codes.EXAMPLE in text
    assert text != "" and (language == "en") == text.startswith("The code has")


def test_the_join_page_script_restates_none_of_the_rule() -> None:
    """``static/join/share.js`` reads the rule from the page's data-code-* attributes."""
    script = (Path(codes.__file__).parent.parent / "server/web/static/join/share.js").read_text()
    for restated in (r"\d{", "[0-9]{", "{9}", r"[\s-]", "slice(0, 3)", "slice(3, 6)"):
        assert restated not in script, restated
    for attribute in ("codeSeparators", "codePattern", "codeGroup"):
        assert f"data.{attribute}" in script
