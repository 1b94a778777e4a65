"""Chat both ways and system information on its own consent, with the real agent, console and server.

Chat: the technician's line reaches the agent's chat window (the agent logs the line it drew);
the user types back into that window with the real keyboard (xdotool at the rectangles of its
``ui-geometry chat`` line); the console shows it with an unread badge until the technician looks;
read receipts go both ways; after the end the ticket holds the transcript.

System information: the request opens the agent's consent window and nothing reaches the console
before *Send*; after *Send* the console's tables hold this machine's values (the agent runs in a
network namespace but on this host: same hostname, memory, disks) and the ticket has them;
*Don't send* leaves the console saying so, with nothing sent.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

import psutil
import pytest

from .flow import LiveSession
from .procs import wait_for
from .stack import VeoServer
from .xdisplay import Rect

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

StartSession = Callable[..., LiveSession]


def _gb(value: int) -> str:
    """As the console's sizeText writes bytes of that size."""
    return f"{value / 1024**3:.1f} GB"


def _sysinfo_window(live: LiveSession) -> dict[str, Rect]:
    """The consent window's layout, logged after the latest "shown" line (the window now on screen)."""
    live.wait_agent_log("sysinfo shown to the user fields=")
    return wait_for(
        "the sysinfo window's layout",
        lambda: live.agent.log.geometry("sysinfo", after="sysinfo shown to the user"),
        30,
        live.logs,
    )


def test_chat_goes_both_ways_with_unread_and_lands_on_the_ticket(
    start: StartSession, veo_server: VeoServer
) -> None:
    live = start(control=False)  # chat needs the user's Allow, not control
    page = live.console.page
    page.wait_for_selector("#chat-input:not([disabled])", timeout=30_000)
    assert "ticket #" in (page.text_content("#chat-notice") or "")

    # technician -> user
    page.fill("#chat-input", "Hola, ¿ve mi mensaje?")
    page.click("#chat-send")
    mine = page.wait_for_selector("#chat-log li[data-from=me]", timeout=10_000)
    assert mine is not None
    tech_id = mine.get_attribute("data-id")
    assert tech_id
    live.wait_agent_log(f"chat received id={tech_id} chars=21 unread=1")
    live.wait_agent_log(f"chat window shows id={tech_id} mine=False")  # drawn in the agent's window
    page.click("#conn-state")  # the technician looks elsewhere: what comes in now is unread

    # user -> technician, typed into the agent's chat window
    chat = live.agent_window("chat")
    live.display.click_rect(chat["input"])  # also: the user looked at the window
    live.wait_agent_log(f"chat read id={tech_id}")
    page.wait_for_selector("#chat-log li[data-from=me][data-read=true]", timeout=20_000)
    live.display.xdotool("type", "--delay", "40", "Si, lo veo")
    live.display.xdotool("key", "Return")
    live.wait_agent_log("chat sent id=")
    sent = [line for line in live.agent.log.lines() if " chat sent id=" in line]
    match = re.search(r"chat sent id=(\S+) chars=(\d+)", sent[-1])
    assert match is not None and match.group(2) == "10"
    user_id = match.group(1)
    theirs = page.wait_for_selector(f"#chat-log li[data-from=them][data-id={user_id}]", timeout=20_000)
    assert theirs is not None and "Si, lo veo" in theirs.inner_text()

    # the console shows it unread until the technician looks at the chat
    page.wait_for_selector("#chat-badge", state="visible", timeout=10_000)
    assert "1" in (page.text_content("#chat-badge") or "")
    page.click("#chat-log")
    page.wait_for_selector("#chat-badge", state="hidden", timeout=10_000)
    live.wait_agent_log(f"chat acknowledged id={user_id}")

    # the end: the transcript goes to the ticket
    page.click("#end-session")
    live.console.wait_conn_state("ended", timeout=20)
    page.wait_for_selector("#chat-attached[data-state='chat.attached']", timeout=20_000)
    page.goto(f"{veo_server.url}/tickets/{live.ticket_id}")
    body = page.inner_text("body")
    assert f"Chat of remote session {live.session_id} (2 messages" in body
    assert "Hola, ¿ve mi mensaje?" in body
    assert "User: Si, lo veo" in body


def test_sysinfo_needs_its_own_consent_and_is_true_for_this_machine(
    start: StartSession, veo_server: VeoServer
) -> None:
    live = start(control=False)
    page = live.console.page
    live.console.open_tool("sysinfo")
    page.wait_for_selector("#sysinfo-request:not([disabled])", timeout=30_000)

    page.click("#sysinfo-request")
    window = _sysinfo_window(live)
    # the user is looking at the data: nothing of it has reached the console
    assert page.get_attribute("#sysinfo-panel", "data-state") == "requested"
    assert page.is_hidden("#sysinfo-details")
    assert page.locator("#sysinfo-details td").count() == 0
    assert not live.agent.log.contains("sysinfo sent")

    live.display.click_rect(window["send"])
    live.wait_agent_log("sysinfo sent fields=")
    page.wait_for_selector("#sysinfo-panel[data-state=received]", timeout=20_000)
    assert page.text_content("td[data-field=hostname]") == socket.gethostname()
    memory = page.text_content("td[data-field=memory]") or ""
    assert memory.startswith(_gb(psutil.virtual_memory().total))
    disks = page.inner_text("[data-section=disks]")
    assert "/" in disks and _gb(psutil.disk_usage("/").total) in disks
    network = page.inner_text("[data-section=network]")
    assert "lo" in network and "127.0.0.1" in network
    programs = page.inner_text("[data-section=programs]")
    assert "python3" in programs
    page.wait_for_selector("#sysinfo-attached[data-state=attached]", timeout=20_000)

    # a second request, declined: the console says so and nothing more is sent
    page.click("#sysinfo-request")
    live.wait_agent_log("sysinfo requested")
    wait_for(
        "a second sysinfo window",
        lambda: live.agent.log.count("sysinfo shown to the user") == 2,
        60,
        live.logs,
    )
    window = _sysinfo_window(live)
    live.display.click_rect(window["decline"])
    live.wait_agent_log("sysinfo declined")
    page.wait_for_selector("#sysinfo-panel[data-state=declined]", timeout=20_000)
    assert live.agent.log.count("sysinfo sent fields=") == 1

    page.goto(f"{veo_server.url}/tickets/{live.ticket_id}")
    body = page.inner_text("body")
    assert f"Computer name: {socket.gethostname()}" in body
    assert body.count("System information of remote session") == 1
    assert "Sent by the technician's console" in body  # the badge (the chat, if attached, has one too)
