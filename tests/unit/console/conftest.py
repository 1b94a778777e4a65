"""Run the console's ES modules under node (v20 has WebCrypto), so JavaScript is tested as shipped."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

STATIC = Path(__file__).resolve().parents[3] / "src" / "veo" / "server" / "web" / "static" / "console"

RunJs = Callable[[str, Any], Any]


@pytest.fixture(scope="session")
def run_js() -> RunJs:
    """``run_js(body, data)``: run an async ES-module body with ``data`` bound; it must ``return`` JSON.

    Modules are imported by absolute file URL as ``mod(name)``; the body's return value comes back
    through stdout as JSON. A JavaScript exception fails the test with node's message.
    """
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")

    def run(body: str, data: Any = None) -> Any:
        script = (
            f"const STATIC = {json.dumps(STATIC.as_uri())};\n"
            "const mod = (name) => import(`${STATIC}/${name}`);\n"
            "let input = '';\n"
            "for await (const chunk of process.stdin) input += chunk;\n"
            "const data = JSON.parse(input);\n"
            "const result = await (async () => {\n" + body + "\n})();\n"
            "process.stdout.write(JSON.stringify(result));\n"
        )
        proc = subprocess.run(
            [node, "--input-type=module", "-e", script],
            input=json.dumps(data),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return run
