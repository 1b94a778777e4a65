"""Where the pages send someone who needs the veo app: one answer for the join page, the browser
share's upgrade panel, the console and the outdated-agent error.

``/download`` is the one place: it knows the visitor's system, says honestly what exists for it
and hands out the file configured for this server. ``VEO_AGENT_DOWNLOAD_URL`` (an operator's own
hosting, from before the server could hand the agent out) still works: ``/download`` lists it as
another place to get veo, and the join page links to it directly when this server holds no build
for Linux, as it did before.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import anyio.to_thread

from veo.config import Settings
from veo.server.downloads import store

PAGE = "/download"
LINUX = "linux-x86_64"


def _with_query(path: str, code: str, lang: str) -> str:
    """``path`` with the code and language that are given (none: no ``?``)."""
    query = urlencode({k: v for k, v in (("code", code), ("lang", lang)) if v})
    return path + (f"?{query}" if query else "")


def file_url(platform: str, code: str = "", lang: str = "") -> str:
    """``/download/linux-x86_64?code=123456789&lang=es``: the file, configured at the download."""
    return _with_query(f"{PAGE}/{platform}", code, lang)


def page_url(code: str = "", lang: str = "") -> str:
    """``/download?code=…``: the page that picks the file for the visitor's system."""
    return _with_query(PAGE, code, lang)


def folder(settings: Settings) -> Path:
    return store.agents_dir(settings.data_dir)


async def builds(settings: Settings) -> store.Listing:
    """The builds in place, read off the event loop (a directory listing and a few small files)."""
    return await anyio.to_thread.run_sync(store.list_builds, folder(settings))


def join_download(settings: Settings, listing: store.Listing, code: str, lang: str) -> str:
    """The join page's *Download veo for Linux*: the configured file itself when the page has a
    code and the build is in place; else the operator's own address if set; else ``/download``."""
    if LINUX in listing.builds:
        return file_url(LINUX, code, lang) if code else page_url(lang=lang)
    if settings.agent_download_url:
        return settings.agent_download_url
    return page_url(code, lang)


def upgrade_download(settings: Settings, listing: store.Listing, code: str) -> str:
    """The browser share's *Download the veo app* with the continuation code: an absolute address
    (the message's contract), the page rather than a file (the user may be on any system)."""
    if not listing.builds and settings.agent_download_url:
        return settings.agent_download_url
    return settings.public_url + page_url(code)
