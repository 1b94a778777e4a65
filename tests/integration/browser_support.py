"""One headless Chromium per test module, for the page tests that drive a real browser.

A launch took 1-2 s a test; each test still opens its own context, so no cookie, storage or page
crosses from one test to the next. A module uses it by importing the fixture by name
(``from tests.integration.browser_support import module_browser``: its fixture name is
``browser``) and running its async tests on the
module's event loop (``loop_scope="module"``), which owns the browser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from veo.bench.chromium import CHROMIUM, CHROMIUM_ARGS


@pytest_asyncio.fixture(scope="module", loop_scope="module", name="browser")
async def module_browser() -> AsyncIterator[Browser]:
    """Debian's Chromium with the one list of flags (``veo.bench.chromium``)."""
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
