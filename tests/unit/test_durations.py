"""Durations in words, with plural forms from the catalog (English and Spanish)."""

from __future__ import annotations

import pytest

from veo.durations import duration_text
from veo.i18n import gettext_for


@pytest.mark.parametrize(
    ("seconds", "english", "spanish"),
    [
        (0, "0 seconds", "0 segundos"),
        (1, "1 second", "1 segundo"),
        (18, "18 seconds", "18 segundos"),
        (60, "1 minute", "1 minuto"),
        (65, "1 minute and 5 seconds", "1 minuto y 5 segundos"),
        (3600, "1 hour", "1 hora"),
        (3725, "1 hour and 2 minutes", "1 hora y 2 minutos"),
        (18.9, "18 seconds", "18 segundos"),
        (-3, "0 seconds", "0 segundos"),
    ],
)
def test_duration_text(seconds: float, english: str, spanish: str) -> None:
    assert duration_text(seconds, gettext_for("en"), "en") == english
    assert duration_text(seconds, gettext_for("es"), "es") == spanish
