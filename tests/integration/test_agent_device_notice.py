"""The enrolment notice on a real Tk in Xvfb: its words for each policy, in English and Spanish,
``veo agent --device-notice`` closed with its button, and ``veo agent enrol`` putting it on the
screen of the display it runs on (then ending without waiting for it)."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import threading
import tkinter as tk
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.tk_process import tk_runner
from tests.xvfb import click_rect, xvfb_display

from veo.agent.device import notice_text
from veo.agent.ui.common import Fonts
from veo.agent.ui.notice import NoticeWindow
from veo.i18n import gettext_for
from veo.protocol.device import EnrolResponse

pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(not shutil.which("Xvfb"), reason="needs Xvfb")]
needs_xdotool = pytest.mark.skipif(not shutil.which("xdotool"), reason="needs xdotool")

RESPONSE = EnrolResponse(
    device_id="b" * 32,
    device_name="reception-01",
    organization="ACME",
    group="Reception",
    policy="notify",
    unattended=False,
    enrolled_by="Ana Admin",
    enrolled_at="2026-12-07T10:00:00+00:00",
)


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb_display() as name:
        yield name


@pytest.fixture
def in_tk(display: str) -> Callable[..., None]:
    return tk_runner(display)


def _check_words(root: tk.Tk, language: str, policy: str, unattended: bool, expected: list[str]) -> None:
    response = RESPONSE.model_copy(update={"policy": policy, "unattended": unattended})
    closed: list[bool] = []
    window = NoticeWindow(
        root,
        Fonts(root),
        language,
        notice_text.build(response, language, "veo agent"),
        lambda: closed.append(True),
    )
    for _ in range(5):
        root.update()
    assert window.window.winfo_ismapped()
    text = window.shown_text()
    for phrase in expected:
        assert phrase in text, (phrase, text)
    window.ok_button.invoke()
    assert closed == [True]


@pytest.mark.parametrize(
    ("language", "policy", "unattended", "expected"),
    [
        (
            "en",
            "ask",
            False,
            ["This computer is now managed by ACME", "you will be asked first", "Ana Admin"],
        ),
        ("en", "notify", False, ["You will see at once who connected and why", "veo agent --history"]),
        ("en", "unattended", True, ["even when nobody is at the computer", "Stop button"]),
        # a group set to unattended on a device not enrolled for it allows notify at most
        ("en", "unattended", False, ["You will see at once who connected and why"]),
        pytest.param(
            "es",
            "ask",
            False,
            ["Este equipo ahora lo administra ACME", "sudo veo agent unenrol"],
            marks=pytest.mark.skipif(
                gettext_for("es").gettext("This computer is now managed by {organization}")
                == "This computer is now managed by {organization}",
                reason="the Spanish catalog does not have the device strings yet (/tmp/veo-tools/es-H3.json)",
            ),
        ),
    ],
)
def test_the_notice_says_what_the_policy_allows(
    in_tk: Callable[..., None], language: str, policy: str, unattended: bool, expected: list[str]
) -> None:
    in_tk(_check_words, language, policy, unattended, expected)


def _wait_for_line(log: Path, pattern: str, process: subprocess.Popen[bytes]) -> re.Match[str]:
    regex = re.compile(pattern)
    while True:
        for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
            match = regex.search(line)
            if match:
                return match
        if process.poll() is not None:
            raise AssertionError(f"the notice exited ({process.returncode}) before logging {pattern!r}")
        threading.Event().wait(0.05)


@needs_xdotool
def test_device_notice_reads_stdin_and_closes_with_its_button(display: str, tmp_path: Path) -> None:
    log = tmp_path / "notice.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "veo", "agent", "--device-notice", "--lang", "en", "--log-file", str(log)],
        env={**os.environ, "DISPLAY": display},
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(json.dumps({"enrolment": RESPONSE.model_dump(), "language": "en"}).encode())
        process.stdin.close()
        rects = json.loads(_wait_for_line(log, r"ui-geometry enrol-notice (\{.*\})", process).group(1))
        click_rect(display, rects["ok"])
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_device_notice_refuses_unreadable_input(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "veo", "agent", "--device-notice", "--log-file", str(tmp_path / "n.log")],
        input=b"not json",
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert b"unreadable notice" in result.stderr


@needs_xdotool
async def test_enrol_shows_the_notice_on_its_display(display: str, tmp_path: Path) -> None:
    from tests.integration.devices.device_support import make_group, make_token
    from tests.integration.live_server import serving

    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "VEO_AGENT_STATE_DIR")}
    env["DISPLAY"] = display
    async with serving(tmp_path, "device-notice-server", organization="ACME") as (base, app):
        import httpx

        async with httpx.AsyncClient(base_url=base) as client, asyncio.timeout(60):
            while (await client.get("/readyz")).status_code != 200:  # noqa: ASYNC110 (polling a server)
                await asyncio.sleep(0.1)
        _, secret = make_token(app, make_group(app, "Reception", policy="ask"))
        enrol = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "veo", "agent", "enrol", "--server", base, "--token", "-",
            "--state-dir", str(tmp_path / "state"), "--lang", "en", "--no-start",
            # this test's Xvfb is ours: as root, a root-owned display needs its user named (R1-4)
            "--display", display, "--desktop-user", pwd.getpwuid(os.getuid()).pw_name,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env,
        )  # fmt: skip
        # the token on standard input (review R1-3); returns with the window still up
        out, err = await asyncio.wait_for(enrol.communicate(f"{secret}\n".encode()), 90)
        assert enrol.returncode == 0, err.decode()
        assert "This computer is now managed by ACME" in out.decode()
    search = await asyncio.create_subprocess_exec(
        "xdotool", "search", "--sync", "--name", "This computer is managed",
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "DISPLAY": display},
    )  # fmt: skip
    found, _ = await asyncio.wait_for(search.communicate(), 60)
    window = found.split()[0].decode()
    # Tk sets no _NET_WM_PID: end the notice this test's enrol started by closing its X client
    kill = await asyncio.create_subprocess_exec(
        "xdotool", "windowkill", window, env={**os.environ, "DISPLAY": display}
    )
    assert await kill.wait() == 0


def _check_history_window(root: tk.Tk, directory: str) -> None:
    from datetime import UTC

    from veo.agent import history
    from veo.agent.device import device_history
    from veo.agent.ui.history import HistoryWindow

    read = device_history.read([Path(directory)])
    window = HistoryWindow(
        root, Fonts(root), "en", history.read(Path(directory) / "none"), lambda: None, UTC, device=read
    )
    for _ in range(5):
        root.update()
    text = window.shown_text()
    assert "This computer's management by your organization" in text
    assert text.index("Connection requested by Tom Tech (ACME)") < text.index(
        "Enrolled: this computer is managed by ACME"
    )
    assert "Reason given: Printer queue stuck" in text


def test_history_window_shows_the_device_section(in_tk: Callable[..., None], tmp_path: Path) -> None:
    from veo.agent.device import device_history
    from veo.agent.device.device_history import DeviceEvent

    device_history.append(
        tmp_path,
        DeviceEvent(kind="enrolled", at="2026-12-01T09:00:00+00:00", organization="ACME", device_name="pc",
                    group="Reception", policy="ask", enrolled_by="Ana Admin"),
    )  # fmt: skip
    device_history.append(
        tmp_path,
        DeviceEvent(kind="session_request", at="2026-12-02T09:00:00+00:00", organization="ACME",
                    technician="Tom Tech", reason="Printer queue stuck", policy="ask", detail="maria"),
    )  # fmt: skip
    in_tk(_check_history_window, str(tmp_path))
