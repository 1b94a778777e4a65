"""The join page's refused code, in real Chromium against the real server: an error the user can act on.

The server refuses a code with a stable ``code`` (and ``retry_after`` when rate limited); the page
says the same sentence as the agent (``veo/protocol/refusals.py``), styled as an error: red,
an icon, ``role=alert``, the next step in the sentence. English and Spanish; screenshots are kept
under ``$VEO_SCREENSHOTS`` when it is set (else a temporary directory).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, WebSocketRoute, async_playwright
from tests.integration.live_server import serving
from websockets.asyncio.client import connect

from veo.bench.chromium import CHROMIUM, CHROMIUM_ARGS
from veo.i18n import gettext_for
from veo.protocol import codes
from veo.protocol.refusals import refusal_text
from veo.protocol.signaling import Join
from veo.server.auth import service as auth_service
from veo.server.sessions.ratelimit import RedemptionLimiter

EMAIL = "join-tech@example.org"
PASSWORD = "correct horse battery staple"
SIZES = ((1366, 768), (1920, 1080))

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
    # one Chromium for the module (``browser``), so its tests share the module's event loop
    pytest.mark.asyncio(loop_scope="module"),
]


@dataclass
class Stack:
    base_url: str
    browser: Browser
    shots: Path
    errors: list[str]
    #: the running app (its hub's limiter can be swapped by a test)
    app: Any = None

    async def page(self, language: str, size: tuple[int, int], query: str = "") -> Page:
        page = await self.browser.new_page(viewport={"width": size[0], "height": size[1]})
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        await page.goto(f"{self.base_url}/join?lang={language}{query}")
        return page

    async def used_code(self) -> str:
        """A code a technician made and an agent already redeemed."""
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            token = (
                await client.post("/api/v1/auth/token", json={"email": EMAIL, "password": PASSWORD})
            ).json()
            auth = {"Authorization": f"Bearer {token['access_token']}"}
            ticket = await client.post(
                "/api/v1/tickets",
                json={"title": "Printer", "requester_name": "Bob", "requester_email": "bob@example.org"},
                headers=auth,
            )
            assert ticket.status_code == 201, ticket.text
            made = await client.post(f"/api/v1/tickets/{ticket.json()['id']}/sessions", json={}, headers=auth)
            assert made.status_code == 201, made.text
        code: str = made.json()["code"].replace(" ", "")
        async with connect(self.base_url.replace("http", "ws") + "/ws/agent") as ws:
            await ws.send(Join(code=code, platform="linux").dumps())
            assert '"joined"' in str(await ws.recv())
        return code


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("VEO_SCREENSHOTS") or tmp_path / "shots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the module: launching it took 1-2 s a test. Each page still gets a
    browser context of its own (``Browser.new_page``), so no cookie or storage is shared."""
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def stack(tmp_path: Path, shots: Path, browser: Browser) -> AsyncIterator[Stack]:
    async with serving(tmp_path, "join-page-test", organization="ACME IT") as (base_url, app):
        # two wrong codes, no growing delay: the rate limit is reached at once
        app.state.hub.limiter = RedemptionLimiter(max_failures=2, base_delay=0.0, max_delay=0.0)
        errors: list[str] = []
        warmup = await browser.new_page()
        await warmup.goto(f"{base_url}/join")  # the server is up (and migrated) once this answers
        await warmup.close()
        with app.state.db.session() as s:
            auth_service.create_user(
                s,
                EMAIL,
                name="Carla",
                role="technician",
                password=PASSWORD,
                must_change_password=False,
            )
        yield Stack(base_url, browser, shots, errors, app)
        for context in browser.contexts:  # what a test left open goes with it
            await context.close()
    assert errors == []


async def _try(page: Page, code: str) -> str:
    await page.fill("#share-code", code)
    await page.click("#share-start")
    await page.wait_for_selector("#share-error:not([hidden])")
    return (await page.text_content("#share-error-text")) or ""


async def _assert_styled_as_error(page: Page) -> None:
    box = page.locator("#share-error")
    assert await box.get_attribute("role") == "alert"
    assert await box.locator("svg.join-error-icon").count() == 1
    style = await box.evaluate(
        "e => { const s = getComputedStyle(e); return [s.color, s.backgroundColor, s.borderTopColor]; }"
    )
    assert style == ["rgb(122, 16, 16)", "rgb(253, 236, 234)", "rgb(180, 35, 24)"], style
    assert await page.get_attribute("#share-code", "aria-invalid") == "true"
    # back on the form, ready for another try
    assert await page.is_visible("#share-code") and await page.is_visible("#share-start")


@pytest.mark.parametrize("language", ["en", "es"])
async def test_a_used_code_says_so_as_an_error(stack: Stack, language: str) -> None:
    catalog = gettext_for(language)
    code = await stack.used_code()
    for size in SIZES:
        page = await stack.page(language, size)
        said = await _try(page, f"{code[:3]} {code[3:6]} {code[6:]}")
        assert said == refusal_text(catalog, "code_used")
        assert await page.text_content("#share-error-title") == catalog.gettext("The code was not accepted")
        await _assert_styled_as_error(page)
        await page.screenshot(path=str(stack.shots / f"join-error-used-{language}-{size[0]}x{size[1]}.png"))
        await page.close()


@pytest.mark.parametrize("language", ["en", "es"])
async def test_unknown_then_too_many_codes_say_how_long_to_wait(stack: Stack, language: str) -> None:
    catalog = gettext_for(language)
    page = await stack.page(language, SIZES[0])
    assert await _try(page, "000000001") == refusal_text(catalog, "code_unknown")
    await _assert_styled_as_error(page)
    assert await _try(page, "000000002") == refusal_text(catalog, "code_unknown")
    limited = await _try(page, "000000003")
    assert limited == refusal_text(catalog, "rate_limited", 600)  # ten minutes from the first failure
    assert ("10 minutes" if language == "en" else "10 minutos") in limited
    await page.screenshot(path=str(stack.shots / f"join-error-rate-limited-{language}-1366x768.png"))
    # a mistyped code is an error too, said before anything is sent
    await page.fill("#share-code", "12345")
    await page.click("#share-start")
    assert await page.text_content("#share-error-text") == codes.format_text(catalog.gettext)
    await page.close()


@pytest.mark.parametrize("language", ["en", "es"])
async def test_a_join_refused_at_the_door_says_so_not_wrong_codes(stack: Stack, language: str) -> None:
    """Too many joins in flight from one network: its own sentence ("try again in a few seconds").

    Before, the page said "Too many wrong codes were tried. Please wait 8 seconds", although no
    code had been checked at all.
    """
    stack.app.state.hub.limiter = RedemptionLimiter(max_in_flight=0)  # every join refused at the door
    catalog = gettext_for(language)
    page = await stack.page(language, SIZES[0])
    said = await _try(page, "000000001")
    assert said == refusal_text(catalog, "too_many_joins")
    assert said != refusal_text(catalog, "rate_limited", 8)
    await _assert_styled_as_error(page)
    await page.screenshot(path=str(stack.shots / f"join-error-too-many-joins-{language}-1366x768.png"))
    await page.close()


async def test_a_link_without_a_valid_code_is_an_error_with_the_next_step(stack: Stack) -> None:
    page = await stack.page("es", SIZES[0], "&code=12ab")
    box = page.locator("#code-error")
    assert await box.get_attribute("role") == "alert"
    assert await box.locator("svg.join-error-icon").count() == 1
    assert "Escriba abajo los 9 dígitos" in ((await box.text_content()) or "")
    await page.screenshot(path=str(stack.shots / "join-error-link-es-1366x768.png"))
    await page.close()


async def test_the_command_without_a_code_names_the_word_to_replace_in_the_readers_language(
    stack: Stack,
) -> None:
    page = await stack.page("es", SIZES[0], "")
    command = (await page.locator("#join-command").text_content()) or ""
    assert command.endswith("--code CÓDIGO"), command
    assert "Sustituya CÓDIGO por" in ((await page.locator(".join-agent").text_content()) or "")
    await page.close()


@pytest.mark.parametrize(
    ("by", "reason", "expected"),
    [
        (
            "technician",
            "technician_ended",
            "The technician ended the session. Your screen is no longer shared.",
        ),
        ("system", "agent_disconnected", "The connection was lost, so the session ended."),
        ("user", "denied", "You denied the request. Nothing was shared."),
        ("system", "sas_mismatch", "The codes differ, so the session was stopped to keep you safe."),
    ],
)
async def test_each_ending_has_its_own_sentence(stack: Stack, by: str, reason: str, expected: str) -> None:
    """The server's ``ended{by, reason}`` (here from a stand-in socket) becomes one coherent sentence."""
    page = await stack.browser.new_page()
    page.on("pageerror", lambda exc: stack.errors.append(str(exc)))

    def on_socket(ws: WebSocketRoute) -> None:
        ws.on_message(lambda _m: ws.send(json.dumps({"v": 1, "type": "ended", "by": by, "reason": reason})))

    await page.route_web_socket(re.compile(r".*/ws/agent$"), on_socket)
    await page.goto(f"{stack.base_url}/join?lang=en")
    await page.fill("#share-code", "123456789")
    await page.click("#share-start")
    await page.wait_for_selector('#share[data-state="ended"]')
    said = (await page.text_content("#share-message")) or ""
    assert said.startswith(expected), said
    assert "_" not in said  # never a code
    await page.close()


@pytest.mark.parametrize("language", ["en", "es"])
async def test_the_page_takes_the_code_rule_from_the_protocol(stack: Stack, language: str) -> None:
    """The share's script reads what a code looks like from the page (``veo/protocol/codes.py``).

    Typed with a dash and a space, the code reaches the server as its digits; a continuation
    code comes back grouped as everywhere else; the form fields are as long as a displayed code.
    """
    page = await stack.browser.new_page()
    page.on("pageerror", lambda exc: stack.errors.append(str(exc)))
    sent: list[dict[str, object]] = []

    def on_socket(ws: WebSocketRoute) -> None:
        def on_message(message: str | bytes) -> None:
            sent.append(json.loads(message))
            upgrade = {"type": "upgrade_code", "code": "987654321", "expires_at": "", "command": "veo"}
            ws.send(json.dumps({"v": 1, **upgrade}))

        ws.on_message(on_message)

    await page.route_web_socket(re.compile(r".*/ws/agent$"), on_socket)
    await page.goto(f"{stack.base_url}/join?lang={language}")
    for field in ("#share-code", "#code"):
        assert await page.get_attribute(field, "maxlength") == str(codes.MAX_TYPED)
        assert await page.get_attribute(field, "placeholder") == codes.EXAMPLE
    await page.fill("#share-code", "123-456 789")  # maxlength: no room for more separators
    await page.click("#share-start")
    await page.wait_for_selector("#share-upgrade-panel:not([hidden])", state="attached")  # took the code
    assert await page.text_content("#share-upgrade-code") == codes.display("987654321") == "987 654 321"
    assert [m["code"] for m in sent if m.get("type") == "join"] == ["123456789"]
    await page.close()
