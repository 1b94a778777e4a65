"""What ``veo server`` imports at start-up stays small.

scikit-learn (with the SciPy it brings) was about 40 % of the server's import time, paid by every
start and by every test that starts a server, while only a report that clusters tickets needs it;
``veo.server.reports.clusters`` imports it on first use. A fresh interpreter is needed to see it:
this test process may already have imported scikit-learn through another test.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: Imported only when a report clusters tickets.
LAZY = ("sklearn", "scipy")
#: What ``veo server`` (veo.server.main.main) imports before it builds the app.
SERVER_MODULES = ("veo.server.main", "veo.server.app", "veo.server.db.migrate", "veo.server.ws_protocol")


def test_starting_the_server_does_not_import_scikit_learn_or_scipy() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {SERVER_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({LAZY!r}))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr  # an import that fails says why
    assert json.loads(done.stdout) == []
