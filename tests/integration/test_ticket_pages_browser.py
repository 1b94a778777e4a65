"""The ticket pages and the two-factor page in headless Chromium, as support staff see them.

A live server (uvicorn on a free port, in this process) serves tickets written through the real
services: one new ticket, one with several ended sessions (notes, ratings, compared codes, end
reasons), one whose join code expired. Chromium signs in as an administrator (the role with the
longest top bar, and the one that must enrol in two-factor sign-in) at 1366×768 and 1920×1080, in
English and Spanish, and checks what a person would notice:

- *Start remote session* is inside the first screenful of a new ticket;
- the sessions list never scrolls sideways;
- the TOTP QR code is a decoded image (non-zero natural size), and the key reads in groups of four;
- no internal code reaches the visible text (snake_case words, ``ticket.created``, Python lists,
  ISO timestamps) on the ticket page, its history, the ticket list and the audit log;
- "e-mail is not configured" is said once, to admins on the outbox page, not on the ticket;
- the top bar is one line;
- *New code* on an expired code gives a new code, and the copy buttons really copy.

Set ``VEO_SCREENSHOTS=/some/dir`` to keep a PNG of every page and size looked at.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyotp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page
from tests.integration.browser_support import module_browser  # noqa: F401  (the fixture `browser`)
from tests.integration.live_server import serving, sign_in
from tests.support import PASSWORD, make_user

from veo.bench.chromium import CHROMIUM

if TYPE_CHECKING:
    from veo.server.db.engine import Database

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
    # one event loop for the module, so one Chromium serves every test (``browser``)
    pytest.mark.asyncio(loop_scope="module"),
]

SIZES = [(1366, 768), (1920, 1080)]
LANGUAGES = ["en", "es"]
TECH = "ana@example.org"

#: Text that is a code rather than words: snake_case, dotted event names, Python lists, ISO times.
INTERNAL = [
    re.compile(r"\b[a-z]+_[a-z_]+\b"),
    re.compile(r"(?<![@.\w])[a-z]+\.[a-z_]+\b(?![@.\w])"),  # not inside an e-mail address
    re.compile(r"\['"),
    re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"),
]


@dataclass
class Seeded:
    new_ticket: int
    busy_ticket: int
    expired_ticket: int


@dataclass
class Live:
    base_url: str
    browser: Browser
    seeded: Seeded
    shots: Path | None
    errors: list[str]


def _seed(db: Database) -> Seeded:
    """Three tickets written through the services, with the audit trail they leave."""
    from veo.server.audit.service import record
    from veo.server.sessions import service as sessions
    from veo.server.sessions.models import RemoteSession
    from veo.server.tickets import service as tickets

    tech = make_user(db, TECH, name="Ana Técnica").user
    for lang in LANGUAGES:
        make_user(db, f"admin-{lang}@example.org", name="Alma Admin", role="admin")
    body = {
        "requester_name": "María Usuaria",
        "requester_email": "maria@example.com",
        "requester_department": "Contabilidad",
        "priority": "high",
        "channel": "phone",
    }
    with db.session() as s:
        new = tickets.create_ticket(
            s,
            {
                **body,
                "title": "La impresora no imprime",
                "description": "Desde el lunes el botón no hace nada.",
            },
            creator=tech,
        )
        busy = tickets.create_ticket(
            s,
            {
                **body,
                "title": "Outlook se cierra al abrir adjuntos",
                "description": "Pasa con todos los PDF.",
            },
            creator=tech,
        )
        expired = tickets.create_ticket(
            s, {**body, "title": "VPN no conecta", "description": "Error 809."}, creator=tech
        )
        ids = Seeded(new.id, busy.id, expired.id)
    endings = [
        ("user", "user_stopped", 18, 5, "Reinstalled the PDF viewer; attachments open again.", True),
        (
            "technician",
            "technician_ended",
            95,
            3,
            "Cleared Outlook's cache; a long note so the card has to wrap "
            "its text rather than push the page sideways at 1366 pixels wide.",
            True,
        ),
        ("system", "agent_disconnected", 3725, None, "", False),
    ]
    for by, reason, seconds, rating, note, sas in endings:
        with db.session() as s:
            session = sessions.create_session(
                s,
                ticket_id=ids.busy_ticket,
                technician=tech,
                permissions=["view", "control"],
                ttl_seconds=600,
            )
            row = s.get(RemoteSession, session.id)
            assert row is not None
            row.status, row.sas_confirmed = "active", sas
            row.granted_permissions = ["view", "control"] if sas else ["view"]
            row.identity_confirmation = "phone_questions" if sas else "not_verified"
            row.identity_confirmed_at = row.created_at if sas else None
            row.started_at = row.created_at - timedelta(seconds=seconds)
            record(
                s,
                "session.consented",
                actor="agent",
                ticket_id=ids.busy_ticket,
                session_id=row.id,
                details={"granted": row.granted_permissions, "sas_confirmed": sas},
            )
            s.flush()
            sessions.end_session(s, row.id, by=by, reason=reason, actor=TECH)  # type: ignore[arg-type]
            if note:
                sessions.add_note(s, row.id, note=note, actor=TECH)
            if rating is not None:
                row.rating, row.rating_comment = rating, "Muy amable y rápida"
    with db.session() as s:
        session = sessions.create_session(
            s, ticket_id=ids.expired_ticket, technician=tech, permissions=["view"], ttl_seconds=600
        )
        row = s.get(RemoteSession, session.id)
        assert row is not None
        row.code_expires_at = row.created_at - timedelta(seconds=1)
        sessions.expire_waiting(s)
    return ids


@pytest_asyncio.fixture(loop_scope="module")
async def live(tmp_path: Path, browser: Browser) -> AsyncIterator[Live]:
    async with serving(tmp_path, "ticket-pages-browser-test", secure_cookies=False) as (base_url, app):
        shots = Path(os.environ["VEO_SCREENSHOTS"]) if os.environ.get("VEO_SCREENSHOTS") else None
        if shots:
            shots.mkdir(parents=True, exist_ok=True)
        probe = await browser.new_page()
        await probe.goto(f"{base_url}/login")  # up and migrated once this answers
        await probe.close()
        contexts = len(browser.contexts)
        try:
            yield Live(base_url, browser, _seed(app.state.db), shots, [])
        finally:
            for context in browser.contexts[contexts:]:  # what the test left open
                await context.close()


async def _context(live: Live, lang: str, size: tuple[int, int]) -> BrowserContext:
    context = await live.browser.new_context(
        viewport={"width": size[0], "height": size[1]}, locale=lang, accept_downloads=True
    )
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.base_url)
    return context


def _watch(live: Live, page: Page) -> None:
    page.on("console", lambda m: live.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: live.errors.append(str(exc)))


async def _shot(live: Live, page: Page, name: str, lang: str, size: tuple[int, int]) -> None:
    if live.shots:
        await page.screenshot(path=str(live.shots / f"{name}-{lang}-{size[0]}x{size[1]}.png"), full_page=True)


async def _sign_in(live: Live, page: Page, email: str, lang: str) -> str | None:
    """Sign in; an admin is sent to enrol in two-factor sign-in first. Returns the TOTP secret."""
    await page.goto(f"{live.base_url}/login?lang={lang}")
    await sign_in(page, email, PASSWORD)
    if "/account/totp" not in page.url:
        return None
    return await page.get_attribute("#totp-secret", "data-secret")


async def _enrol(page: Page, secret: str) -> None:
    await page.fill("#code", pyotp.TOTP(secret).now())
    await page.click("#totp-confirm")
    await page.wait_for_selector("#recovery-codes")


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


async def _visible_codes(page: Page, selector: str = "main") -> list[str]:
    text = await page.inner_text(selector)
    return [m.group(0) for pattern in INTERNAL for m in pattern.finditer(text)]


async def _one_line_topbar(page: Page) -> None:
    rows = await page.eval_on_selector_all(
        ".topbar-inner a, .topbar-inner button",
        "els => els.map(e => {"
        " const r = e.getBoundingClientRect(); return [e.textContent.trim(), r.top, r.height]; })",
    )
    tops = {round(top + height / 2) for _, top, height in rows}
    assert max(tops) - min(tops) <= 4, f"the top bar wraps: {rows}"


async def test_totp_qr_is_decoded_and_recovery_codes_copy_and_download(live: Live) -> None:
    for lang in LANGUAGES:
        context = await _context(live, lang, SIZES[0])
        page = await context.new_page()
        _watch(live, page)
        secret = await _sign_in(live, page, f"admin-{lang}@example.org", lang)
        assert secret, "an administrator is sent to two-factor enrolment first"
        for size in SIZES:
            await page.set_viewport_size({"width": size[0], "height": size[1]})
            await page.reload()
            natural = await page.eval_on_selector(
                "#totp-qr", "img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])"
            )
            assert natural[0] > 0 and natural[1] > 0, "the QR code image did not decode"
            grouped = (await page.inner_text("#totp-secret")).strip()
            assert re.fullmatch(r"([A-Z2-7]{4} )+[A-Z2-7]{1,4}", grouped), grouped
            assert grouped.replace(" ", "") == secret
            await _one_line_topbar(page)
            await _shot(live, page, "totp", lang, size)
        await page.click("#copy-secret")
        assert await page.evaluate("navigator.clipboard.readText()") == secret
        await _enrol(page, secret)
        await _shot(live, page, "recovery-codes", lang, SIZES[0])
        shown = [c.strip() for c in await page.locator("#recovery-codes code").all_inner_texts()]
        assert len(shown) == 10
        await page.click("#copy-recovery-codes")
        assert (await page.evaluate("navigator.clipboard.readText()")).split("\n") == shown
        async with page.expect_download() as waiting:
            await page.click("#download-recovery-codes")
        download = await waiting.value
        assert download.suggested_filename == "veo-recovery-codes.txt"
        saved = _read(await download.path())
        assert all(code in saved for code in shown)
        await context.close()
    assert not live.errors, live.errors


async def test_ticket_pages_put_the_action_first_and_speak_in_words(live: Live) -> None:
    for lang in LANGUAGES:
        context = await _context(live, lang, SIZES[0])
        page = await context.new_page()
        _watch(live, page)
        secret = await _sign_in(live, page, f"admin-{lang}@example.org", lang)
        assert secret
        await _enrol(page, secret)
        for size in SIZES:
            await page.set_viewport_size({"width": size[0], "height": size[1]})
            await page.goto(f"{live.base_url}/tickets/{live.seeded.new_ticket}")
            await _one_line_topbar(page)
            box = await page.locator("#start-session").bounding_box()
            assert box is not None and box["y"] + box["height"] <= size[1], (
                f"Start remote session is below the first screenful ({box}) at {size} in {lang}"
            )
            assert not await _visible_codes(page), await _visible_codes(page)
            await _shot(live, page, "ticket-new", lang, size)

            await page.goto(f"{live.base_url}/tickets/{live.seeded.busy_ticket}")
            assert await page.locator("#session-list > li").count() == 3
            widths = await page.eval_on_selector_all(
                "#session-list, #session-list > li, #sessions, html",
                "els => els.map(e => [e.id || e.tagName, e.scrollWidth, e.clientWidth])",
            )
            assert all(scroll <= client for _, scroll, client in widths), widths
            assert not await _visible_codes(page), await _visible_codes(page)
            assert await page.locator(".audit-event[data-action='session.ended']").count() == 3
            assert await page.locator("#mail-unconfigured, #mail-undelivered").count() == 0
            await _shot(live, page, "ticket-sessions", lang, size)

            await page.goto(f"{live.base_url}/tickets")
            assert not await _visible_codes(page), await _visible_codes(page)
            await _one_line_topbar(page)
            await _shot(live, page, "ticket-list", lang, size)

            await page.goto(f"{live.base_url}/audit")
            assert await page.locator("#audit-list tr[data-seq]").count() > 10
            assert not await _visible_codes(page), await _visible_codes(page)
            await _one_line_topbar(page)
            await _shot(live, page, "audit", lang, size)
            await page.goto(f"{live.base_url}/admin/outbox")
            assert await page.locator("#mail-unconfigured").count() == 1  # said once, here
        await context.close()
    assert not live.errors, live.errors


async def test_new_code_for_an_expired_code_and_copy_buttons(live: Live) -> None:
    context = await _context(live, "en", SIZES[0])
    page = await context.new_page()
    _watch(live, page)
    await _sign_in(live, page, TECH, "en")
    await page.goto(f"{live.base_url}/tickets/{live.seeded.expired_ticket}")
    assert await page.get_attribute("#session-now", "data-state") == "code_expired"
    assert await page.locator("#join-code").count() == 0
    await _shot(live, page, "ticket-expired", "en", SIZES[0])
    await page.click("#new-code")
    await page.wait_for_selector("#join-code")
    assert await page.get_attribute("#session-now", "data-state") == "waiting"
    code = (await page.inner_text("#join-code")).strip()
    assert re.fullmatch(r"\d{3} \d{3} \d{3}", code), code
    assert await page.locator("#session-list > li").count() == 2  # the expired one stays on record
    await page.click("#copy-code")
    assert await page.evaluate("navigator.clipboard.readText()") == code
    await page.click("#copy-link")
    link = await page.evaluate("navigator.clipboard.readText()")
    assert link == f"{live.base_url}/join?code={code.replace(' ', '')}"
    await _shot(live, page, "ticket-waiting", "en", SIZES[0])
    await context.close()
    assert not live.errors, live.errors
