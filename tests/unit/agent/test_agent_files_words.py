"""What the file windows say: sizes with plural forms and the reader's decimal mark, reasons as sentences."""

from __future__ import annotations

import pytest

from veo.agent.ui.files import human_size, reason_text
from veo.i18n import gettext_for


@pytest.mark.parametrize(
    ("size", "english", "spanish"),
    [
        (1, "1 byte", "1 byte"),
        (512, "512 bytes", "512 bytes"),
        (1530, "1.5 kB", "1,5 kB"),
        (52_400_000, "52.4 MB", "52,4 MB"),
    ],
)
def test_sizes(size: int, english: str, spanish: str) -> None:
    assert human_size(size, gettext_for("en").gettext) == english
    assert human_size(size, gettext_for("es").gettext) == spanish


def test_an_unknown_reason_is_a_sentence_without_the_code() -> None:
    said = reason_text(gettext_for("en").gettext, "failed", "some_new_reason")
    assert said == "The transfer failed. No partial file was kept."
    assert "_" not in reason_text(gettext_for("es").gettext, "failed", "busy")
