"""The agent's first window does not wait for the session's stack (issue 15, start time).

aiortc, PyAV and numpy (and the capture, input and stream modules) are more than half a second of
a start; the code window and the consent dialog need none of them. Each check runs in a fresh
interpreter, since this test process has long imported everything: importing the agent and its
windows, and a session that is joined (the consent dialog posted) and then makes its offer. The
real start to the code window is held in ``tests/integration/test_agent_startup.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: What only a session needs: none of it may be imported before the first window.
SESSION_ONLY = (
    "aiortc",
    "av",
    "numpy",
    "mss",
    "veo.agent.stream",
    "veo.agent.low_latency",
    "veo.agent.convert",
    "veo.agent.cursor",
    "veo.agent.capture.x11",
    "veo.agent.input.xtest",
)

SCRIPT = """
import contextlib, io, json, sys
import veo.agent.main, veo.agent.app, veo.agent.session
import veo.agent.ui.code, veo.agent.ui.consent, veo.agent.ui.problem
from veo.agent.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main(["--help"])
with contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(SystemExit):
    main(["--server", "http://127.0.0.1:9", "--max-fps", "500"])  # refused without aiortc
print(json.dumps(sorted(m for m in sys.argv[1:] if m in sys.modules)))
"""


def _imported_after(script: str, names: tuple[str, ...]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", script, *names], capture_output=True, text=True, timeout=120, check=True
    )
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_main_app_and_the_first_windows_import_nothing_only_a_session_needs() -> None:
    assert _imported_after(SCRIPT, SESSION_ONLY) == []


def test_the_first_peer_connection_loads_the_media_stack() -> None:
    """The other side: what the session needs is still found, by the call the session makes."""
    script = "import json, sys\nfrom veo.agent.session import load_media_stack\nload_media_stack()\n"
    script += "print(json.dumps(sorted(m for m in sys.argv[1:] if m in sys.modules)))\n"
    assert _imported_after(script, ("aiortc", "av", "numpy", "veo.agent.stream")) == [
        "aiortc",
        "av",
        "numpy",
        "veo.agent.stream",
    ]


CONSENT_SCRIPT = """
import asyncio, json, sys
from veo.agent.events import ShowConsent
from veo.agent.session import AgentSession, SessionDeps
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Joined

HEAVY = sys.argv[1:]
joined = Joined(
    session_id="s-1", organization="ACME IT", technician_name="Ana", ticket_id=1, ticket_title="t",
    requested=[Permission.VIEW], ice_servers=[],
)
seen = {"imported": sorted(m for m in HEAVY if m in sys.modules)}


class Channel:
    def __init__(self):
        self.incoming = [joined.model_dump_json()]
        self.offered = asyncio.Event()

    async def send(self, message):
        if json.loads(message).get("type") == "offer":
            self.offered.set()

    async def recv(self):
        if self.incoming:
            return self.incoming.pop(0)
        await asyncio.Event().wait()

    async def close(self):
        return None


def post(event):
    if isinstance(event, ShowConsent):
        seen["consent"] = sorted(m for m in HEAVY if m in sys.modules)


def nothing():
    raise AssertionError("no capture or input here")


async def run():
    channel = Channel()
    deps = SessionDeps(capture_factory=nothing, injector_factory=nothing, post=post, record_history=False)
    session = AgentSession(channel, "123456789", deps)
    task = asyncio.ensure_future(session.run())
    await asyncio.wait_for(channel.offered.wait(), 60)
    seen["offer"] = sorted(m for m in HEAVY if m in sys.modules)
    task.cancel()


asyncio.run(run())
print(json.dumps(seen))
"""


def test_with_a_code_known_the_consent_dialog_is_posted_before_aiortc_and_pyav_load() -> None:
    """``--code``, a link or a download with a code: no code window, the consent dialog is the first
    one; the session posts it on ``joined`` and imports aiortc and PyAV for the offer after it."""
    names = ("aiortc", "av", "veo.agent.stream", "veo.agent.low_latency")
    result = subprocess.run(
        [sys.executable, "-c", CONSENT_SCRIPT, *names],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["imported"] == [] and seen["consent"] == []
    assert seen["offer"] == sorted(names)
