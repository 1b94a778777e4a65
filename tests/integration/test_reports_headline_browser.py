"""The reports page opens with the seed's promise, on a month's worth of sample data, in Chromium.

A live server holds the data ``veo admin sample-data`` writes; Chromium signs in as a lead at
1366x768 and reads the page as a person does: the first thing under the title is one sentence
comparing the median resolution time of tickets with a remote session and without, with both
figures and their difference (which must add up), a two-bar chart, no internal code, all inside
the first screen; in English and in Spanish. ``VEO_REPORTS_SCREENSHOT_DIR`` keeps screenshots.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page
from tests.integration.browser_support import module_browser  # noqa: F401  (the fixture `browser`)
from tests.integration.live_server import serving, sign_in
from tests.support import PASSWORD, make_user

from veo.bench.chromium import CHROMIUM
from veo.server.sample.generate import demo_plan, generate

LEAD = "lead@example.org"
VIEWPORT = {"width": 1366, "height": 768}
#: snake_case codes, dotted event names (ticket.created) and Python list syntax
CODES = re.compile(r"\b[a-z]+_[a-z_]+\b|\b[a-z]+\.[a-z_]+\b|\[['\"]")
DURATION = r"(\d+) h (\d\d) min"
SENTENCES = {
    "en": re.compile(
        rf"Tickets with a remote session were resolved in a median of {DURATION}, "
        rf"{DURATION} faster than those without \({DURATION}\)\."
    ),
    "es": re.compile(
        rf"Los tickets con sesión remota se resolvieron en una mediana de {DURATION}, "
        rf"{DURATION} más rápido que los que no la tuvieron \({DURATION}\)\."
    ),
}

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
    # one event loop for the module, so one Chromium serves every test (``browser``)
    pytest.mark.asyncio(loop_scope="module"),
]


@dataclass
class Live:
    base_url: str
    page: Page
    errors: list[str]


@pytest_asyncio.fixture(loop_scope="module")
async def live(tmp_path: Path, browser: Browser) -> AsyncIterator[Live]:
    async with serving(tmp_path, "reports-headline-test", secure_cookies=False) as (base_url, app):
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{base_url}/login")  # up and migrated once this answers
        make_user(app.state.db, LEAD, name="Lea Lead", role="lead")
        generate(app.state.db.engine, demo_plan(6, seed=1))
        await sign_in(page, LEAD, PASSWORD)
        try:
            yield Live(base_url, page, errors)
        finally:
            await context.close()


def _minutes(hours: str, minutes: str) -> int:
    return int(hours) * 60 + int(minutes)


@pytest.mark.parametrize("language", ["en", "es"])
async def test_the_promise_comes_first_in_words(live: Live, language: str) -> None:
    page = live.page
    await page.goto(f"{live.base_url}/reports?lang={language}")
    first = await page.evaluate("() => document.querySelector('#main .page-head').nextElementSibling.id")
    assert first == "headline"
    box = await page.locator("#headline").bounding_box()
    assert box is not None and box["y"] + box["height"] <= VIEWPORT["height"], box  # on the first screen

    sentence = (await page.inner_text("#headline-sentence")).replace("\xa0", " ").strip()
    match = SENTENCES[language].fullmatch(sentence)
    assert match, sentence
    numbers = match.groups()
    with_session, difference, without = (_minutes(*numbers[i : i + 2]) for i in (0, 2, 4))
    assert with_session < without and abs(with_session + difference - without) <= 1

    shown = await page.inner_text("#headline")
    assert not CODES.search(shown), shown
    assert ("remote" in shown) == (language == "en")
    bars = page.locator("#chart-headline svg rect")
    assert await bars.count() == 2
    widths = [float(await bars.nth(i).get_attribute("width") or 0) for i in range(2)]
    assert 0 < widths[0] < widths[1]
    # the detailed figures follow the headline, not the other way round
    order = await page.evaluate(
        "() => [...document.querySelectorAll('#headline, #summary, #table-week')].map(e => e.id)"
    )
    assert order == ["headline", "summary", "table-week"]
    if folder := os.environ.get("VEO_REPORTS_SCREENSHOT_DIR"):  # for a person to look at
        await page.screenshot(path=str(Path(folder) / f"reports-{language}-1366x768.png"))
        await page.set_viewport_size({"width": 1920, "height": 1080})
        await page.screenshot(path=str(Path(folder) / f"reports-{language}-1920x1080.png"))
    assert live.errors == []
