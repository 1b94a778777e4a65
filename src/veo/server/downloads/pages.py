"""``/download``: the veo app for the visitor's system, already configured for this server.

``GET /download`` is a page in the visitor's language: the file for their system first (from the
User-Agent, :mod:`platforms`), the other systems below, and an honest sentence where veo has no
app yet (the browser share on the join page, view only). ``GET /download/linux-x86_64`` streams
the operator's build (:mod:`store`) followed by a trailer naming this server, its organization,
the page's language and, from a join link, the session's code
(:func:`veo.protocol.agent_config.seal`): the user opens the file and sees the consent dialog,
without typing an address. The build is never rebuilt or rewritten; ``/download/deb-amd64``
serves the ``.deb`` as it is (IT configured it when packaging).

The code is checked for its shape only (:mod:`veo.protocol.codes`), never against the database:
the page must not tell a stranger which codes are live. A stale code in a file is harmless (the
agent asks for a new one); a malformed one is refused with a sentence and never embedded.

Each build has ``/download/<platform>/licences``: a page (from its manifest) with veo's terms, every
bundled part's licence and where its corresponding source is, veo's own source at
``VEO_SOURCE_URL``, and a link to ``/download/<platform>/licences.txt``, the licence texts the
build collected (:mod:`store` keeps them beside the build). Whoever serves the file distributes it
(GPL/AGPL), so these are offered from the same place (docs/agent-build.md).

Downloads are logged (platform, version, whether a code was embedded; never the code) and
counted in ``/metrics``; not audited: anyone may download, and a public address must not write
audit rows at a stranger's pace.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path as FilePath
from typing import Annotated, BinaryIO
from urllib.parse import quote, urlsplit

import anyio
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import Counter

from veo.config import SUPPORTED_LANGUAGES, Settings
from veo.protocol import agent_config, codes
from veo.server import metrics
from veo.server.downloads import links, platforms, store
from veo.server.errors import ApiError
from veo.server.handlers import wants_html
from veo.server.lang import _, get_language
from veo.server.web import wording
from veo.server.web.templating import render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

DOWNLOADS = Counter(
    "veo_agent_downloads",
    "Agent files handed out by /download, by platform and whether a join code was embedded.",
    ["platform", "with_code"],
    registry=metrics.REGISTRY,
)
_CHUNK = 256 * 1024
CodeParam = Annotated[str, Query(max_length=40)]
LangParam = Annotated[str, Query(max_length=10)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class DownloadRefused(ApiError):
    """A download that cannot be served; a browser gets ``download_error.html`` (the way on)."""


def _code(code: str) -> str:
    """The code of ``?code=`` (spaces and dashes allowed), "" for none; a malformed one: 400."""
    if not code:
        return ""
    digits = codes.normalise(code)
    if digits is None:
        raise DownloadRefused(
            400,
            "invalid_code",
            _(
                "This download link carries a code that is not valid (a code has %(digits)d digits). "
                "Download veo without it, and type the code your technician gives you when veo asks for it."
            )
            % {"digits": codes.DIGITS},
        )
    return digits


async def refused(request: Request, exc: DownloadRefused) -> Response:
    """The sentence, and on a page the ways on: the download without a code, the join page."""
    if not wants_html(request):
        return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)
    context = {
        "status": exc.status,
        "message": exc.message,
        "download_url": links.page_url(lang=get_language()),
    }
    return await render(request, "download_error.html", context, status_code=exc.status)


def _system_names() -> dict[str, str]:
    return {
        "linux-x86_64": _("Linux"),
        "linux-other": _("Linux"),
        "windows": _("Windows"),
        "macos": _("macOS"),
        "chromeos": _("ChromeOS"),
        "mobile": _("a phone or tablet"),
        "unknown": _("your system"),
    }


@router.get(links.PAGE)
async def download_page(request: Request, code: CodeParam = "") -> Response:
    settings = _settings(request)
    digits = _code(code)
    listing = await links.builds(settings)
    system = platforms.detect(request.headers.get("user-agent"))
    lang = get_language()
    linux = listing.builds.get(links.LINUX)
    minimum = settings.agent_min_version
    context = {
        "system": system,
        "system_name": _system_names()[system],
        "linux": linux,
        "deb": listing.builds.get("deb-amd64"),
        "rpm": listing.builds.get("rpm-x86_64"),
        "code": digits,
        "code_display": codes.display(digits or None),
        "linux_url": links.file_url(links.LINUX, digits, lang),
        "deb_url": links.file_url("deb-amd64"),
        "rpm_url": links.file_url("rpm-x86_64"),
        "join_url": "/join" + (f"?code={digits}" if digits else ""),
        "min_version": minimum,
        # A build older than the server accepts would be refused at join: the admin must know.
        "stale": [b for b in listing.builds.values() if agent_config.is_older(b.manifest.version, minimum)],
        "problems": listing.problems,
        "other_url": settings.agent_download_url,
        "server_host": urlsplit(settings.public_url).hostname or settings.public_url,
        "folder": links.folder(settings),
        "server_url": settings.public_url,
        "data_dir": settings.data_dir.resolve(),
    }
    return await render(request, "download.html", context)


def _licences_build(platform: str, listing: store.Listing) -> store.Build:
    if platform not in store.PLATFORMS:
        raise DownloadRefused(404, "not_found", _("veo has no download of that name."))
    build = listing.builds.get(platform)
    if build is None:
        raise DownloadRefused(404, "no_build", _no_build())
    return build


def _platform_name(platform: str) -> str:
    names = {
        "linux-x86_64": _("veo for Linux"),
        "deb-amd64": _("veo's .deb package for Linux"),
        "rpm-x86_64": _("veo's .rpm package for Linux"),
    }
    return names.get(platform, "veo")  # every platform has its name: never an internal id on a page


@router.get(links.PAGE + "/{platform}/licences")
async def licences_page(request: Request, platform: Annotated[str, Path(max_length=40)]) -> Response:
    """Who may do what with the file, every part's licence and where its source is (the manifest)."""
    settings = _settings(request)
    build = _licences_build(platform, await links.builds(settings))
    manifest = build.manifest
    has_texts = manifest.licences is not None and await anyio.to_thread.run_sync(build.licences.is_file)
    veo = next((s for s in manifest.sources if s.component == "veo"), None)
    contents = getattr(manifest, "contents", None)
    context = {
        "build": build,
        "platform_name": _platform_name(platform),
        "texts_url": f"{links.PAGE}/{platform}/licences.txt" if has_texts else "",
        "sources": [s for s in manifest.sources if s.component != "veo"],
        "missing": manifest.licences.missing if manifest.licences is not None else [],
        "revision": veo.revision if veo is not None else "",
        "source_url": settings.source_url,
        # an older build: at least the distributions its manifest lists, with their sdists on PyPI
        "contents": contents if isinstance(contents, list) and not manifest.sources else [],
        "download_url": links.page_url(lang=get_language()),
    }
    return await render(request, "download_licences.html", context)


@router.get(links.PAGE + "/{platform}/licences.txt")
async def licences_text(request: Request, platform: Annotated[str, Path(max_length=40)]) -> Response:
    """The licence texts the build collected, as they are (UTF-8 text)."""
    settings = _settings(request)
    build = _licences_build(platform, await links.builds(settings))
    if build.manifest.licences is None or not await anyio.to_thread.run_sync(build.licences.is_file):
        raise DownloadRefused(
            404,
            "no_licences",
            _(
                "This build came without its licence texts (it was made before veo collected them). "
                "Its licences page lists what is inside and where the source is."
            ),
        )
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    return FileResponse(build.licences, media_type="text/plain; charset=utf-8", headers=headers)


@router.get(links.PAGE + "/{platform}")
async def download_file(
    request: Request,
    platform: Annotated[str, Path(max_length=40)],
    code: CodeParam = "",
    lang: LangParam = "",
) -> Response:
    settings = _settings(request)
    kind = store.PLATFORMS.get(platform)
    if kind is None:
        message = _("veo has no download of that name.")
        raise DownloadRefused(404, "not_found", message)
    digits = _code(code)
    build = (await links.builds(settings)).builds.get(platform)
    if build is None:
        raise DownloadRefused(404, "no_build", _no_build())
    language = "" if not kind.configured else lang if lang in SUPPORTED_LANGUAGES else get_language()
    # the .deb and .rpm are served as stored (IT configured them when packaging)
    trailer = (
        b""
        if not kind.configured
        else agent_config.seal(
            agent_config.EmbeddedConfig(
                server=settings.public_url,
                # the default name is a description: in the file's language, as the consent dialog says it
                organization=wording.organization(settings.organization, language),
                code=digits,
                language=language if language in ("es", "en") else "",
            )
        )
    )
    try:
        # Opened once, its size from the descriptor, streamed from it: a build replaced or removed
        # meanwhile (veo admin agent add) never cuts or mixes this download.
        raw, size = await anyio.to_thread.run_sync(_open, build.file)
    except OSError:  # replaced between the listing and now: the listing again, once
        build = (await links.builds(settings)).builds.get(platform)
        try:
            if build is None:
                raise FileNotFoundError(platform)
            raw, size = await anyio.to_thread.run_sync(_open, build.file)
        except OSError:
            log.warning("agent build %s vanished before its download", platform)
            raise DownloadRefused(404, "no_build", _no_build()) from None
    handle = anyio.wrap_file(raw)
    version = build.manifest.version
    headers = {
        "Content-Disposition": attachment(kind.download_name(version)),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    headers["Content-Length"] = str(size + len(trailer))
    _count(platform, version, digits if kind.configured else "", language)
    return StreamingResponse(_stream(handle, size, trailer), media_type=kind.media_type, headers=headers)


_SAFE_NAME = re.compile(r"[A-Za-z0-9._+~-]+")


def attachment(name: str) -> str:
    """``Content-Disposition`` for saving ``name``: quoted as is only when it is plain letters, digits
    and ``._+~-`` (a checked version always is); anything else in RFC 6266's encoded form, so a quote,
    ``;`` or line break can never end the parameter or start another header field."""
    if _SAFE_NAME.fullmatch(name):
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"veo-agent\"; filename*=UTF-8''{quote(name, safe='')}"


def _no_build() -> str:
    return _("This server has no veo app for this system yet. Ask your technician how to get help.")


def _open(path: FilePath) -> tuple[BinaryIO, int]:
    handle = path.open("rb")
    return handle, os.fstat(handle.fileno()).st_size


async def _stream(handle: anyio.AsyncFile[bytes], size: int, trailer: bytes) -> AsyncIterator[bytes]:
    """Exactly ``size`` bytes of the build, then the trailer; the file closed however it ends."""
    try:
        left = size
        while left > 0:
            chunk = await handle.read(min(_CHUNK, left))
            if not chunk:  # cut short under us: stop rather than send a wrong length
                raise OSError("the build became shorter while it was being sent")
            left -= len(chunk)
            yield chunk
        if trailer:
            yield trailer
    finally:
        await handle.aclose()


def _count(platform: str, version: str, code: str, language: str) -> None:
    DOWNLOADS.labels(platform, "yes" if code else "no").inc()
    log.info(
        "agent download: %s %s, code embedded: %s, language: %s",
        platform,
        version,
        "yes" if code else "no",
        language or "-",
    )
