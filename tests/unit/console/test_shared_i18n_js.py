"""static/shared/i18n.js: the one catalog reader of the console and the join page's browser share."""

from __future__ import annotations

from tests.unit.console.conftest import RunJs


def test_catalog_fills_placeholders_counts_plurals_and_falls_back_to_the_key(run_js: RunJs) -> None:
    got = run_js(
        """
        const { Catalog } = await mod("../shared/i18n.js");
        const page = (text) => ({
          getElementById: (id) => (id === "page-i18n" && text !== null ? { textContent: text } : null),
        });
        const catalog = new Catalog();
        catalog.load(page(JSON.stringify(data)), "page-i18n");
        const broken = new Catalog();
        broken.load(page("{not json"), "page-i18n");
        const missing = new Catalog();
        missing.load(page(null), "page-i18n");
        return {
          filled: catalog.t("hello", { name: "Ana", unused: 1 }),
          kept: catalog.t("hello"),
          unknown: catalog.t("no.such {x}", { x: "y" }),
          has: [catalog.has("hello"), catalog.has("toString"), catalog.has("no.such")],
          plural: [catalog.tn("files", 1), catalog.tn("files", 3)],
          lang: [catalog.language(), broken.language()],
          broken: broken.t("hello"),
          missing: missing.t("hello"),
        };
        """,
        {
            "lang": "es",
            "hello": "Hola, {name}",
            "files": {"one": "{count} archivo", "other": "{count} archivos"},
        },
    )
    assert got == {
        "filled": "Hola, Ana",
        "kept": "Hola, {name}",
        "unknown": "no.such y",
        "has": [True, False, False],
        "plural": ["1 archivo", "3 archivos"],
        "lang": ["es", "en"],
        "broken": "hello",
        "missing": "hello",
    }
