"""No page links off-site because of the address it was asked for.

``GET //evil.example/x`` used to render its language switch as ``//evil.example/x?lang=en``, a
link to another site on veo's own error page. Every link, form and source of the page is resolved
as a browser would (a backslash counts as a slash in http URLs) and must stay on veo's host.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from tests.support import BASE_URL

ATTRIBUTE = re.compile(r"""\b(?:href|src|action)="([^"]*)\"""")


@pytest.mark.parametrize(
    "path", ["//evil.example/x", "/\\evil.example/x", "///evil.example/x", "/\\/evil.example", "/login"]
)
async def test_every_link_stays_on_the_site(client: httpx.AsyncClient, path: str) -> None:
    url = httpx.URL(BASE_URL + path)
    assert url.host == "127.0.0.1"  # the request really goes to veo with that path
    page = await client.get(url, headers={"accept": "text/html"})
    assert "<html" in page.text
    links = [link.replace("&amp;", "&") for link in ATTRIBUTE.findall(page.text)]
    assert any("lang=es" in link for link in links)  # the language switch is there
    for link in links:
        if link.startswith("data:"):
            continue
        resolved = urljoin(str(page.url), link.replace("\\", "/"))
        assert urlsplit(resolved).netloc == "127.0.0.1:8000", f"{path}: {link!r} leaves the site"


async def test_the_language_switch_keeps_the_page_and_its_query(client: httpx.AsyncClient) -> None:
    page = await client.get("/login?next=%2Ftickets%2F7", headers={"accept": "text/html"})
    links = [link.replace("&amp;", "&") for link in ATTRIBUTE.findall(page.text)]
    spanish = next(link for link in links if "lang=es" in link)
    assert urljoin(str(page.url), spanish) == f"{BASE_URL}/login?next=%2Ftickets%2F7&lang=es"
