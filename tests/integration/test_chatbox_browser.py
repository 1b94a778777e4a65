"""The shared chat widget (static/shared/chatbox.js) in real Chromium: its documented API.

Served from the source tree through a route (no server needed): what the console and the join
page rely on — a peer's text never becomes markup, unread counts until the person interacts,
read receipts, duplicates ignored, nothing shown as sent when sending failed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Route, async_playwright

from veo.bench.chromium import CHROMIUM, CHROMIUM_ARGS

STATIC = Path(__file__).resolve().parents[2] / "src" / "veo" / "server" / "web" / "static"
ORIGIN = "http://veo.test"
PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<button id="elsewhere">elsewhere</button><div id="box"></div>
<script type="module">
import { ChatBox } from "/static/shared/chatbox.js";
window.sent = []; window.reads = []; window.unreadSeen = []; window.accept = true;
window.box = new ChatBox(document.getElementById("box"), {
  idPrefix: "chat",
  strings: { title: "Chat", send: "Send", unread: "{count} unread", me: "You", them: "User", read: "Read" },
  onSend: (text) => {
    if (!window.accept) return null;
    window.sent.push(text);
    return "t" + window.sent.length;
  },
  onRead: (id) => window.reads.push(id),
});
window.box.onUnread = (n) => window.unreadSeen.push(n);
window.ready = true;
</script></body></html>"""

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
    # one Chromium for the module (``browser``), so its tests share the module's event loop
    pytest.mark.asyncio(loop_scope="module"),
]


async def _serve(route: Route) -> None:
    path = route.request.url.removeprefix(ORIGIN)
    if path == "/":
        await route.fulfill(body=PAGE, content_type="text/html")
    elif path.startswith("/static/") and ".." not in path:
        await route.fulfill(path=str(STATIC / path.removeprefix("/static/")), content_type="text/javascript")
    else:
        await route.fulfill(status=404)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the module (a launch took 1-2 s a test); each page has its own context."""
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser) -> AsyncIterator[Page]:
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.route(f"{ORIGIN}/**", _serve)
    await page.goto(f"{ORIGIN}/")
    await page.wait_for_function("() => window.ready === true")
    yield page
    assert errors == []
    await page.context.close()


async def test_sending_shows_the_line_only_when_it_left(page: Page) -> None:
    await page.fill("#chat-input", "  hello  ")
    await page.press("#chat-input", "Enter")
    assert await page.evaluate("window.sent") == ["hello"]
    assert await page.text_content("#chat-log li[data-from=me][data-id=t1] .chatbox-text") == "hello"
    assert await page.input_value("#chat-input") == ""
    await page.evaluate("window.accept = false")
    await page.fill("#chat-input", "lost")
    await page.click("#chat-send")
    assert await page.locator("#chat-log li").count() == 1
    assert await page.get_attribute("#chat-input", "aria-invalid") == "true"
    assert await page.input_value("#chat-input") == "lost"  # kept for another try


async def test_peer_text_is_text_and_unread_until_the_person_interacts(page: Page) -> None:
    await page.click("#elsewhere")
    evil = '<img src=x onerror="window.owned=1">'
    assert await page.evaluate(f"window.box.receive({{id: 'u1', text: {evil!r}}})") is True
    assert await page.evaluate("window.box.receive({id: 'u1', text: 'again'})") is False  # duplicate
    assert await page.evaluate("window.box.receive({id: 'bad id', text: 'x'})") is False
    assert await page.evaluate("window.box.receive({id: 'u2', text: ''})") is False
    assert await page.text_content("#chat-log li[data-id=u1] .chatbox-text") == evil
    assert await page.locator("#chat-log img").count() == 0
    assert await page.evaluate("window.owned") is None
    await page.evaluate("window.box.receive({id: 'u3', text: 'second'})")
    assert await page.evaluate("window.box.unread") == 2
    assert await page.text_content("#chat-badge") == "2 unread"
    assert await page.is_visible("#chat-badge")
    assert await page.evaluate("window.reads") == []
    await page.click("#chat-log")
    assert await page.evaluate("window.box.unread") == 0
    assert await page.is_hidden("#chat-badge")
    assert await page.evaluate("window.reads") == ["u3"]
    assert await page.evaluate("window.unreadSeen") == [1, 2, 0]
    # while the person is in the chat, a new line is read at once
    await page.focus("#chat-input")
    await page.evaluate("window.box.receive({id: 'u4', text: 'third'})")
    assert await page.evaluate("window.box.unread") == 0
    assert await page.evaluate("window.reads") == ["u3", "u4"]


async def test_folded_panel_counts_and_unfolding_reads(page: Page) -> None:
    await page.click("#chat-toggle")  # fold
    assert await page.get_attribute("#chat-toggle", "aria-expanded") == "false"
    await page.evaluate("window.box.receive({id: 'u1', text: 'hi'})")
    await page.click("#chat-badge")
    assert await page.evaluate("window.box.unread") == 1  # still folded: not seen
    await page.click("#chat-toggle")
    assert await page.evaluate("window.box.unread") == 0


async def test_acknowledge_marks_our_lines_up_to_the_id(page: Page) -> None:
    for text in ("one", "two", "three"):
        await page.fill("#chat-input", text)
        await page.click("#chat-send")
    await page.evaluate("window.box.acknowledge('t2')")
    read = await page.eval_on_selector_all(
        "#chat-log li[data-read=true]", "els => els.map(e => e.dataset.id)"
    )
    assert read == ["t1", "t2"]
    assert await page.text_content("#chat-log li[data-id=t1] .chatbox-status") == "Read"
    await page.evaluate("window.box.acknowledge('unknown')")
    transcript = await page.evaluate("window.box.transcript().map(l => [l.id, l.from, l.text])")
    assert transcript == [["t1", "me", "one"], ["t2", "me", "two"], ["t3", "me", "three"]]


async def test_disabled_and_notice(page: Page) -> None:
    await page.evaluate("window.box.setEnabled(false)")
    assert await page.is_disabled("#chat-input") and await page.is_disabled("#chat-send")
    await page.evaluate("window.box.setNotice('Attached to ticket #7')")
    assert await page.text_content("#chat-notice") == "Attached to ticket #7"
    await page.evaluate("window.box.setNotice('')")
    assert await page.is_hidden("#chat-notice")
