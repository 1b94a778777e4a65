"""The Spanish catalog is complete, in step with the sources and with its compiled ``.mo``.

English is the source language (``en`` needs no catalog), so a string added to the code or a
template without a Spanish translation fails here: re-run ``make i18n`` and translate it.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import httpx
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from veo.i18n import LOCALE_DIR, gettext_for

ROOT = Path(__file__).resolve().parents[2]
POT = LOCALE_DIR / "veo.pot"
ES_PO = LOCALE_DIR / "es" / "LC_MESSAGES" / "veo.po"
ES_MO = LOCALE_DIR / "es" / "LC_MESSAGES" / "veo.mo"

CONSENT_WARNING = (
    "Only continue if you asked {organization} for help. Nobody from {organization} "
    "will contact you unexpectedly to ask for access to your computer."
)
#: ``%(name)s``, ``%d``, ``%%`` (templates format every string with ``%``) and ``{name}``, ``{url!r}``
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0\-+]*\d*(?:\.\d+)?[a-zA-Z%]|\{[^{}]*\}")


def _read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def _key(message: Message) -> str | tuple[str, ...]:
    return message.id if isinstance(message.id, str) else tuple(message.id)


def _msgids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {_key(m) for m in catalog if m.id}


def _forms(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return [""]
    return [value] if isinstance(value, str) else list(value)


def _placeholders(text: str) -> Counter[str]:
    return Counter(_PLACEHOLDER.findall(text))


def test_spanish_catalog_is_complete_and_placeholders_match() -> None:
    catalog = _read(ES_PO)
    assert catalog.locale is not None and str(catalog.locale) == "es"
    problems: list[str] = []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        translations = _forms(message.string)
        if not all(t.strip() for t in translations):
            problems.append(f"untranslated: {message.id!r}")
            continue
        expected = _placeholders(_forms(message.id)[0])
        for translation in translations:
            if _placeholders(translation) != expected:
                problems.append(f"placeholders differ: {message.id!r} -> {translation!r}")
    assert not problems, "\n".join(problems)


def test_template_is_up_to_date_and_spanish_covers_every_string(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-extract exactly as ``make i18n`` does and compare the message ids."""
    fresh = tmp_path / "veo.pot"
    monkeypatch.chdir(ROOT)  # babel.cfg patterns are relative to the repository root
    CommandLineInterface().run(  # type: ignore[no-untyped-call]
        ["pybabel", "-q", "extract", "-F", "babel.cfg", "-o", str(fresh), "--project", "veo", "."]
    )
    extracted = _msgids(_read(fresh))
    assert len(extracted) > 200, "extraction found too few strings: is babel.cfg still right?"

    stored = _msgids(_read(POT))
    assert extracted - stored == set(), "new strings: run `make i18n` and translate them"
    assert stored - extracted == set(), "strings gone from the sources: run `make i18n`"

    spanish = {_key(m) for m in _read(ES_PO) if m.id and m.string}
    assert extracted - spanish == set(), "strings without a Spanish translation: run `make i18n`"


def test_compiled_catalog_matches_the_po() -> None:
    po = {_key(m): _forms(m.string) for m in _read(ES_PO) if m.id and not m.fuzzy}
    with ES_MO.open("rb") as f:
        mo = {_key(m): _forms(m.string) for m in read_mo(f) if m.id}
    assert mo == po, "the .mo is stale: run `make i18n` (pybabel compile)"


def test_gettext_for_spanish_translates_the_consent_warning() -> None:
    text = gettext_for("es").gettext(CONSENT_WARNING)
    assert text.startswith("Continúe solo si usted pidió ayuda a {organization}")
    assert gettext_for("es-MX").gettext("Deny") == "Rechazar"
    assert gettext_for("en").gettext(CONSENT_WARNING) == CONSENT_WARNING


async def test_public_join_page_is_spanish_with_lang_es(client: httpx.AsyncClient) -> None:
    page = await client.get("/join?lang=es")
    assert page.status_code == 200
    assert '<html lang="es">' in page.text
    assert "Unirse a una sesión de asistencia" in page.text
    assert "Continúe solo si usted pidió ayuda a" in page.text
    assert "Join a support session" not in page.text
