"""``static/shared/csrf.js``: the one reader of the page's CSRF token for the console's modules.

The console's writes (a file attached to the ticket, the chat transcript, the system information)
must carry the token or the server refuses them (403 ``csrf_failed``); the modules that send them
import this reader rather than keeping a copy each.
"""

from __future__ import annotations

import re

from tests.unit.console.conftest import STATIC, RunJs

READERS = ("files.js", "sysinfo.js", "chat.js")


def test_the_token_comes_from_the_meta_tag(run_js: RunJs) -> None:
    result = run_js(
        """
        const { csrfToken } = await mod("../shared/csrf.js");
        const page = (content) => ({
          querySelector: (selector) =>
            selector === 'meta[name="csrf-token"]' && content !== null
              ? { getAttribute: (name) => (name === "content" ? content : null) }
              : null,
        });
        return [csrfToken(page("tok-123")), csrfToken(page(null)), csrfToken(page(""))];
        """
    )
    assert result == ["tok-123", "", ""]


def test_every_console_writer_uses_the_shared_reader() -> None:
    for name in READERS:
        source = (STATIC / name).read_text()
        assert 'import { csrfToken } from "../shared/csrf.js";' in source, name
        assert not re.search(r"function csrfToken", source), f"{name} keeps its own copy"
        assert "csrfToken(doc)" in source, name
