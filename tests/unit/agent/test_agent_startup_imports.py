"""The agent's first window does not wait for the session's stack (issue 15, start time).

aiortc, PyAV and numpy (and the capture, input and stream modules) are more than half a second of
a start; the code window and the consent dialog need none of them. Each check runs in a fresh
interpreter, since this test process has long imported everything. The real start to the code
window is held in ``tests/integration/test_agent_startup.py``.
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
