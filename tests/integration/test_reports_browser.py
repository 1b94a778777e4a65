"""The reports page in headless Chromium: the charts are really drawn, and the language is used.

A live server (uvicorn on a free port) serves the hand-worked fixture; Chromium signs in as a
lead and opens the reports. Each chart's SVG is screenshotted on its own and its pixels counted:
a chart area that stayed blank (nothing rendered, or blocked by the CSP) fails the test.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page
from tests.integration.browser_support import module_browser  # noqa: F401  (the fixture `browser`)
from tests.integration.live_server import serving, sign_in
from tests.integration.reports_seed import LEAD, seed
from tests.support import PASSWORD

from veo.bench.chromium import CHROMIUM

PERIOD = "start=2026-03-02&end=2026-03-15"
CHARTS = [
    "chart-week-first-response",
    "chart-week-resolution",
    "chart-category",
    "chart-technician",
    "chart-priority",
    "chart-session-compare",
    "chart-top-categories",
    "chart-satisfaction",
    "chart-technician-sessions",
]

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
    async with serving(tmp_path, "reports-browser-test", secure_cookies=False) as (base_url, app):
        context = await browser.new_context(viewport={"width": 1200, "height": 900})
        page = await context.new_page()
        errors: list[str] = []
        page.on(
            "console",
            lambda msg: (
                errors.append(msg.text)
                if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico")
                else None
            ),
        )
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{base_url}/login")  # up and migrated once this answers
        seed(app.state.db)
        await sign_in(page, LEAD, PASSWORD)
        try:
            yield Live(base_url, page, errors)
        finally:
            await context.close()


def _pixels(png: bytes) -> list[tuple[int, int, int]]:
    """RGB(A) 8-bit PNG decoded with the standard library (Chromium's screenshots are that)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, data = 8, b""
    width = height = channels = 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            data += body
        pos += 12 + length
    raw = zlib.decompress(data)
    stride = width * channels
    previous = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 0xFF
        pixels += [(line[x], line[x + 1], line[x + 2]) for x in range(0, stride, channels)]
        previous = line
    return pixels


def _drawn_share(png: bytes) -> float:
    """Share of pixels that are neither white nor the page background (i.e. bars, text, lines)."""
    pixels = _pixels(png)
    drawn = sum(1 for r, g, b in pixels if min(r, g, b) < 200)
    return drawn / len(pixels)


async def test_charts_are_drawn(live: Live, tmp_path: Path) -> None:
    page = live.page
    await page.goto(f"{live.base_url}/reports?{PERIOD}")
    await page.wait_for_selector("#chart-week-resolution svg")
    await page.screenshot(path=str(tmp_path / "reports.png"), full_page=True)
    if shot := os.environ.get("VEO_REPORTS_SCREENSHOT"):  # for a person to look at
        await page.screenshot(path=shot, full_page=True)
    for chart in CHARTS:
        area = page.locator(f"#{chart} svg")
        png = await area.screenshot()
        share = _drawn_share(png)
        assert share > 0.01, f"{chart} looks blank ({share:.4f} of its pixels drawn)"
        assert await page.locator(f"#{chart} svg rect").count() > 0
    # The bars are the blue of the chart, not just labels.
    bars = _pixels(await page.locator("#chart-session-compare svg").screenshot())
    assert any(b > 150 and r < 80 for r, g, b in bars)
    # Numbers are printed next to the bars (not only drawn as lengths).
    assert "7.4" in (await page.text_content("#fig-resolution-p90") or "")
    assert live.errors == []


async def test_spanish_request_uses_spanish_formats(live: Live) -> None:
    page = live.page
    await page.goto(f"{live.base_url}/reports?{PERIOD}&lang=es")
    assert await page.get_attribute("html", "lang") == "es"
    assert (await page.text_content("#fig-resolution-p90") or "").strip() == "7,4"  # Babel, es
    assert (await page.text_content("#fig-fcr") or "").replace("\xa0", " ").strip() == "50 %"
    # 2 March 2026 as Babel writes it in Spanish
    assert "2 mar 2026" in (await page.text_content(".period-note") or "")


async def test_spanish_page_shows_spanish_text(live: Live) -> None:
    page = live.page
    await page.goto(f"{live.base_url}/reports?{PERIOD}&lang=es")
    assert (await page.text_content("h1") or "").strip() == "Informes"
    assert "Problemas recurrentes" in (await page.text_content("#recurring-title") or "")
