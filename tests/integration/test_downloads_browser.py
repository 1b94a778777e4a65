"""``/download`` and the join page's download in real Chromium, as the person being helped meets them.

A live server (``live_server.serving``) holds a small stand-in build (``downloads_support.py``;
the real 90 MB file is the end-to-end tests' job). Chromium on this Linux machine, with its own
User-Agent, opens ``/download`` and a join link of a real session code, clicks the download, and
the file it saved names this server, this organization and, from the join link, that code. A
Windows visitor is told there is no app yet and offered the browser share; a malformed code in a
download link gets a page with a sentence and no file; without a build, the user is sent to the
technician. The main button is inside the first screenful and nothing scrolls sideways, in
English and Spanish. ``VEO_SCREENSHOTS=DIR`` keeps a PNG of each page looked at.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page
from tests.integration.browser_support import module_browser  # noqa: F401  (the fixture `browser`)
from tests.integration.downloads_support import stand_in
from tests.integration.live_server import serving
from tests.support import PASSWORD, api_token, make_user, ticket_body

from veo.bench.chromium import CHROMIUM
from veo.config import Settings
from veo.protocol import agent_config, codes
from veo.server.downloads import store

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
    pytest.mark.asyncio(loop_scope="module"),
]

ORGANIZATION = "ACME IT"
TECH = "dl-tech@example.org"
WINDOWS_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SIZES = ((1366, 768), (1920, 1080))


@dataclass
class Live:
    base_url: str
    browser: Browser
    agents: Path
    shots: Path
    errors: list[str]

    async def context(
        self, lang: str, size: tuple[int, int], user_agent: str | None = None
    ) -> BrowserContext:
        return await self.browser.new_context(
            viewport={"width": size[0], "height": size[1]},
            locale=lang,
            user_agent=user_agent,
            accept_downloads=True,
        )

    async def page(self, context: BrowserContext, path: str) -> Page:
        page = await context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        await page.goto(self.base_url + path)
        return page

    async def new_code(self) -> str:
        """A live join code, made as a technician makes one (ticket, then session)."""
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            auth = await api_token(client, TECH, PASSWORD)
            ticket = (await client.post("/api/v1/tickets", json=ticket_body(), headers=auth)).json()
            made = await client.post(f"/api/v1/tickets/{ticket['id']}/sessions", json={}, headers=auth)
            assert made.status_code == 201, made.text
        code = codes.normalise(made.json()["code"])
        assert code is not None
        return code

    async def shot(self, page: Page, name: str) -> None:
        await page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("VEO_SCREENSHOTS") or tmp_path / "shots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest_asyncio.fixture(loop_scope="module")
async def live(tmp_path: Path, shots: Path, browser: Browser) -> AsyncIterator[Live]:
    async with serving(tmp_path, "downloads-browser", organization=ORGANIZATION) as (base_url, app):
        async with httpx.AsyncClient(base_url=base_url) as client:
            assert (await client.get("/healthz")).status_code == 200
        make_user(app.state.db, TECH, name="Carla Técnica")
        settings: Settings = app.state.settings
        agents = store.agents_dir(settings.data_dir)
        store.add(agents, stand_in(tmp_path / "dist"))
        errors: list[str] = []
        yield Live(base_url, browser, agents, shots, errors)
        for context in browser.contexts:
            await context.close()
    assert errors == []


async def _saved_config(page: Page, selector: str, where: Path) -> agent_config.EmbeddedConfig:
    """Click ``selector``, save what the browser downloads, read the configuration at its end."""
    async with page.expect_download() as waiting:
        await page.click(selector)
    download = await waiting.value
    assert download.suggested_filename == "veo-agent"
    saved = where / download.suggested_filename
    await download.save_as(saved)  # Playwright makes the folders
    config = agent_config.read_embedded(saved)
    assert config is not None, "the downloaded file carries no configuration"
    return config


async def _first_screenful_and_no_sideways_scroll(page: Page, selector: str, size: tuple[int, int]) -> None:
    box = await page.locator(selector).bounding_box()
    assert box is not None and box["y"] + box["height"] <= size[1], (
        f"{selector} is below the first screenful: {box}"
    )
    wide = await page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
    assert not wide, "the page scrolls sideways"


async def test_a_linux_visitor_downloads_a_file_that_names_this_server(live: Live, tmp_path: Path) -> None:
    for lang in ("en", "es"):
        for size in SIZES:
            context = await live.context(lang, size)  # Chromium's own User-Agent: X11; Linux x86_64
            page = await live.page(context, f"/download?lang={lang}")
            assert await page.get_attribute("#download-main", "data-system") == "linux-x86_64"
            await _first_screenful_and_no_sideways_scroll(page, "#download-linux", size)
            assert await page.locator("#download-admin").count() == 0
            await live.shot(page, f"download-linux-{lang}-{size[0]}x{size[1]}")
            if size == SIZES[0]:
                config = await _saved_config(page, "#download-linux", tmp_path / lang)
                assert config == agent_config.EmbeddedConfig(
                    server=live.base_url, organization=ORGANIZATION, code="", language=lang
                )
            await context.close()


async def test_the_join_links_download_carries_that_sessions_code(live: Live, tmp_path: Path) -> None:
    code = await live.new_code()
    for lang in ("es", "en"):
        context = await live.context(lang, SIZES[0])
        page = await live.page(context, f"/join?code={code}&lang={lang}")
        await page.locator("#agent-download").scroll_into_view_if_needed()
        await live.shot(page, f"join-app-{lang}-1366x768")
        open_veo = await page.get_attribute("#open-veo", "href")
        assert open_veo == agent_config.join_link(live.base_url, code)
        config = await _saved_config(page, "#agent-download", tmp_path / lang)
        assert config == agent_config.EmbeddedConfig(
            server=live.base_url, organization=ORGANIZATION, code=code, language=lang
        )
        # the same file from the download page reached with the join link's code
        page = await live.page(context, f"/download?code={code}&lang={lang}")
        assert codes.display(code) in ((await page.text_content("#download-code")) or "")
        config = await _saved_config(page, "#download-linux", tmp_path / f"{lang}-page")
        assert config.code == code and config.server == live.base_url
        await context.close()


async def test_a_windows_visitor_is_offered_the_browser_share(live: Live) -> None:
    code = await live.new_code()
    for lang in ("en", "es"):
        context = await live.context(lang, SIZES[0], WINDOWS_UA)
        page = await live.page(context, f"/download?code={code}&lang={lang}")
        assert await page.get_attribute("#download-main", "data-system") == "windows"
        assert await page.locator("#download-main #download-linux").count() == 0
        await _first_screenful_and_no_sideways_scroll(page, "#download-share", SIZES[0])
        await live.shot(page, f"download-windows-{lang}-1366x768")
        await page.click("#download-share")
        await page.wait_for_url(f"**/join?code={code}")
        assert codes.display(code) in ((await page.text_content("#join-code")) or "")
        assert await page.locator("#agent-none").is_visible()
        await context.close()


async def test_a_malformed_code_gets_a_sentence_and_no_file(live: Live) -> None:
    context = await live.context("en", SIZES[0])
    page = await context.new_page()
    response = await page.goto(f"{live.base_url}/download/linux-x86_64?code=12345678x&lang=en")
    assert response is not None and response.status == 400
    text = (await page.text_content("main")) or ""
    assert "carries a code that is not valid" in text
    await live.shot(page, "download-bad-code-en-1366x768")
    await page.click("#download-without-code")  # the way on: the page, without the code
    await page.wait_for_url("**/download?lang=en")
    assert await page.locator("#download-linux").is_visible()
    # a tampered join link: the page says so, and its download is the page without a code
    page = await live.page(context, "/join?code=1234-5678-9x&lang=en")
    assert await page.locator("#code-error").is_visible()
    assert await page.get_attribute("#agent-download", "href") == "/download?lang=en"
    await context.close()


async def test_without_a_build_the_user_is_sent_to_the_technician(live: Live) -> None:
    assert store.remove(live.agents, "linux-x86_64") is not None
    for lang in ("en", "es"):
        context = await live.context(lang, SIZES[0])
        page = await live.page(context, f"/download?lang={lang}")
        assert await page.locator("#download-none").is_visible()
        assert await page.locator("#download-linux").count() == 0
        await live.shot(page, f"download-none-{lang}-1366x768")
        await context.close()
