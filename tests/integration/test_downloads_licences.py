"""The licence texts and sources that come with a build: kept beside it, served with it.

``make agent`` writes ``<build>.licences.txt`` and names it (with its SHA-256) in the manifest's
``licences``, and lists in ``sources`` where each part's corresponding source is. ``veo admin agent
add`` keeps the texts beside the build; ``/download/<platform>/licences`` (es/en) states the terms
and lists the parts, ``/download/<platform>/licences.txt`` serves the texts. A build made before
veo collected them is still served, and its page says what is missing. Stand-in builds
(``downloads_support.py``): what the server does with the texts does not depend on the program.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from tests.integration.downloads_support import stand_in, write_manifest
from tests.support import PASSWORD, enrol_totp, make_user

from veo.config import Settings
from veo.i18n import gettext_for
from veo.server.downloads import store

HTML = {"accept": "text/html"}
TERMS = (
    "The file also contains other free software, each part under its own licence (listed below). Some "
    "parts, x264 and x265 inside FFmpeg, are under the GNU General Public License version 2 or later, so "
    "the file as a whole is distributed under the terms of the GNU GPL version 3 or later, which every "
    "part's licence allows. veo's part stays under the AGPL: section 13 of both licences allows them to "
    "be combined."
)
AGPL = (
    "veo is free software: you may use, study, share and change it. veo's own code is under the GNU "
    "Affero General Public License, version 3 or later (AGPL-3.0-or-later)."
)
NO_SOURCE_URL = (
    "This server does not say where its copy of veo's source code is. Ask %(organization)s: whoever "
    "gives you this file must also give you its source code."
)
NO_TEXTS = (
    "This build came without its licence texts (it was made before veo collected them). The "
    "administrator of this server should make it again with make agent and put it in place."
)
NO_SOURCES = (
    "This build's manifest does not say where the source code of each part is (the build was made "
    "before veo recorded it). The administrator of this server should make it again with make agent "
    "and put it in place."
)
SOURCES = [
    {"component": "veo", "version": "0.2.0", "licence": "AGPL-3.0-or-later", "source": "",
     "revision": "0123456789abcdef0123456789abcdef01234567+changes"},
    {"component": "aiortc", "version": "1.16.0", "licence": "BSD-3-Clause",
     "source": "https://pypi.org/project/aiortc/1.16.0/#files",
     "command": "pip download --no-deps --no-binary :all: aiortc==1.16.0"},
    {"component": "libx11-6 (Debian)", "version": "2:1.8.4-2+deb12u2",
     "licence": "see its Debian copyright file",
     "source": "https://snapshot.debian.org/package/libx11/2:1.8.4-2+deb12u2/",
     "command": "apt-get source libx11=2:1.8.4-2+deb12u2", "files": ["libX11.so.6"]},
    {"component": "FFmpeg 8.1.2 and the libraries in av.libs/ (pyav-ffmpeg)", "version": "8.1.2",
     "licence": "GPL-3.0-or-later as combined",
     "source": "https://github.com/PyAV-Org/pyav-ffmpeg (the release tag for FFmpeg 8.1.2)"},
]  # fmt: skip
TEXTS = "Licences of veo-agent-linux-x86_64 (veo 0.2.0)\n\nContents\n\n  1. veo 0.2.0 — AGPL ✓\n"


def with_licences(where: Path, version: str = "0.2.0", texts: str = TEXTS) -> Path:
    """A stand-in build as ``make agent`` now leaves it: the texts beside it, named in the manifest."""
    built = stand_in(where, version=version)
    data = texts.encode()
    licences = built.with_name(built.name + ".licences.txt")
    licences.write_bytes(data)
    write_manifest(
        built,
        "linux-x86_64",
        version,
        licences={
            "file": licences.name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "missing": ["av.libs/libvpl-e4e9cae8.so.2.16 (Intel VPL dispatcher)"],
        },
        sources=SOURCES,
    )
    return built


def _agents(app: FastAPI) -> Path:
    settings: Settings = app.state.settings
    return store.agents_dir(settings.data_dir)


# ---------------------------------------------------------------- the folder


def test_the_licence_texts_come_along_and_go_with_the_build(tmp_path: Path) -> None:
    folder = tmp_path / "agents"
    build = store.add(folder, with_licences(tmp_path / "dist"))
    kept = folder / "veo-agent-linux-x86_64.licences.txt"
    assert build.licences == kept and kept.read_text(encoding="utf-8") == TEXTS
    assert build.manifest.licences is not None and build.manifest.sources[1].component == "aiortc"
    # a later build without texts (an older make agent): the texts of the one it replaces go
    store.add(folder, stand_in(tmp_path / "old", version="0.2.1"))
    assert not kept.exists()
    store.add(folder, with_licences(tmp_path / "again", version="0.2.2"))
    assert kept.exists()
    store.remove(folder, "linux-x86_64")
    assert sorted(p.name for p in folder.iterdir()) == []


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("gone", "which are not beside the build: copy them too"),
        ("changed", "are not the licence texts the manifest describes"),
    ],
)
def test_licence_texts_that_are_missing_or_changed_refuse_the_build_and_keep_the_one_in_place(
    tmp_path: Path, damage: str, expected: str
) -> None:
    folder = tmp_path / "agents"
    good = store.add(folder, with_licences(tmp_path / "good"))
    before = (good.path.read_bytes(), good.licences.read_bytes())
    bad = with_licences(tmp_path / "bad", version="0.2.1")
    texts = bad.with_name(bad.name + ".licences.txt")
    if damage == "gone":
        texts.unlink()
    else:
        texts.write_text(TEXTS.replace("AGPL", "MIT!"), encoding="utf-8")
    with pytest.raises(store.StoreError) as refused:
        store.add(folder, bad)
    assert expected in str(refused.value)
    listing = store.list_builds(folder)
    assert listing.problems == [] and listing.builds["linux-x86_64"].manifest.version == "0.2.0"
    assert (good.path.read_bytes(), good.licences.read_bytes()) == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_admin_agent_add_keeps_the_texts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from veo.server import admin

    built = with_licences(tmp_path / "dist")
    assert admin.main(["--data-dir", str(tmp_path / "data"), "agent", "add", str(built)]) == 0
    capsys.readouterr()
    kept = tmp_path / "data" / "agents" / "veo-agent-linux-x86_64.licences.txt"
    assert kept.read_text(encoding="utf-8") == TEXTS


# ---------------------------------------------------------------- the pages


async def _admin_signed_in(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db, "boss@example.org", role="admin")
    secret = enrol_totp(app.state.db, "boss@example.org")
    await client.post("/login", data={"email": "boss@example.org", "password": PASSWORD})
    signed = await client.post("/login/totp", data={"code": pyotp.TOTP(secret).now()})
    assert signed.status_code == 303, signed.text


async def test_the_licences_page_states_the_terms_and_where_every_source_is(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    store.add(_agents(app), with_licences(tmp_path / "dist"))
    download = await client.get("/download?lang=en", headers=HTML)
    assert 'id="download-licences" href="/download/linux-x86_64/licences"' in download.text
    page = await client.get("/download/linux-x86_64/licences?lang=en", headers=HTML)
    assert page.status_code == 200
    html = page.text
    assert AGPL in html and TERMS in html
    assert 'id="licences-texts" class="button" href="/download/linux-x86_64/licences.txt"' in html
    assert '<a href="https://pypi.org/project/aiortc/1.16.0/#files" rel="noopener">' in html
    assert "<code>pip download --no-deps --no-binary :all: aiortc==1.16.0</code>" in html
    assert "<code>apt-get source libx11=2:1.8.4-2+deb12u2</code>" in html
    assert (
        '<a href="https://github.com/PyAV-Org/pyav-ffmpeg" rel="noopener">https://github.com/PyAV-Org/pyav-ffmpeg</a>'
        " (the release tag for FFmpeg 8.1.2)" in html
    )  # an address, then a sentence
    assert "Built from revision 0123456789abcdef0123456789abcdef01234567." in html
    assert "It was built with changes that are not in that revision" in html
    assert "av.libs/libvpl-e4e9cae8.so.2.16 (Intel VPL dispatcher)" in html  # what has no text
    organization = app.state.settings.organization
    assert (NO_SOURCE_URL % {"organization": organization}) in html
    assert 'id="licences-admin"' not in html
    # the operator names the repository: the page links it
    app.state.settings.source_url = "https://git.example.org/acme/veo/src/tag/v0.2.0"
    html = (await client.get("/download/linux-x86_64/licences?lang=en", headers=HTML)).text
    assert 'id="licences-source-url" href="https://git.example.org/acme/veo/src/tag/v0.2.0"' in html
    assert 'id="licences-no-source-url"' not in html


async def test_the_licences_page_in_spanish(app: FastAPI, client: httpx.AsyncClient, tmp_path: Path) -> None:
    store.add(_agents(app), with_licences(tmp_path / "dist"))
    es = gettext_for("es").gettext
    html = (await client.get("/download/linux-x86_64/licences?lang=es", headers=HTML)).text
    assert 'lang="es"' in html
    assert es(AGPL) in html
    assert es("Licences and source code") in html
    assert es("Read the full licence texts") in html


async def test_the_licence_texts_are_served_as_utf8_text(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    store.add(_agents(app), with_licences(tmp_path / "dist"))
    response = await client.get("/download/linux-x86_64/licences.txt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text == TEXTS  # "—" and "✓" intact


async def test_an_older_build_without_texts_or_sources_is_served_and_its_page_says_what_is_missing(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    store.add(_agents(app), stand_in(tmp_path / "dist"))  # the manifest of a build from before
    assert (await client.get("/download/linux-x86_64")).status_code == 200
    page = await client.get("/download/linux-x86_64/licences?lang=en", headers=HTML)
    assert page.status_code == 200
    html = page.text
    assert AGPL in html
    assert NO_TEXTS in html and NO_SOURCES in html
    assert 'id="licences-texts"' not in html
    # what the old manifest does list: its distributions, with their sources on PyPI
    assert '<a href="https://pypi.org/project/aiortc/1.9.0/#files" rel="noopener">PyPI</a>' in html
    texts = await client.get("/download/linux-x86_64/licences.txt", headers=HTML)
    assert texts.status_code == 404
    assert "This build came without its licence texts" in texts.text and "Traceback" not in texts.text
    api = await client.get("/download/linux-x86_64/licences.txt")
    assert api.status_code == 404 and api.json()["code"] == "no_licences"


async def test_unknown_or_absent_builds_have_no_licences_page(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    absent = await client.get("/download/linux-x86_64/licences?lang=en", headers=HTML)
    assert absent.status_code == 404 and "This server has no veo app for this system yet." in absent.text
    unknown = await client.get("/download/windows/licences?lang=en", headers=HTML)
    assert unknown.status_code == 404 and "veo has no download of that name." in unknown.text


async def test_the_administrator_is_told_to_keep_the_sources_available_and_to_set_the_source_url(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    store.add(_agents(app), with_licences(tmp_path / "dist"))
    await _admin_signed_in(app, client)
    html = (await client.get("/download/linux-x86_64/licences?lang=en", headers=HTML)).text
    assert 'id="licences-admin"' in html
    assert "Set VEO_SOURCE_URL to the address of your copy of veo" in html


def test_the_source_url_is_a_checked_setting() -> None:
    assert Settings(source_url="https://git.example.org/veo").source_url == "https://git.example.org/veo"
    assert Settings().source_url == ""
    with pytest.raises(ValueError, match="VEO_SOURCE_URL must start with http"):
        Settings(source_url="git@example.org:veo.git")


def _deb_files(deb: Path, *names: str) -> dict[str, bytes]:
    """Files inside a .deb, read with dpkg-deb."""
    tarball = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    found = {}
    with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
        for name in names:
            member = tar.extractfile(name)
            assert member is not None, name
            found[name] = member.read()
    return found


async def test_the_deb_carries_the_texts_and_has_its_own_licences_page(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from veo.server import admin

    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed")
    data_dir = str(app.state.settings.data_dir)
    store.add(_agents(app), with_licences(tmp_path / "dist"))
    code = admin.main(
        ["--data-dir", data_dir, "agent", "package-deb", "--server", "https://support.example.org"]
    )
    assert code == 0, capsys.readouterr().err
    deb = store.find(_agents(app), "deb-amd64")
    assert deb is not None and deb.licences.read_text(encoding="utf-8") == TEXTS
    assert deb.manifest.licences is not None and deb.manifest.licences.file == f"{deb.path.name}.licences.txt"
    assert [s.component for s in deb.manifest.sources] == [s["component"] for s in SOURCES]
    inside = _deb_files(
        deb.path, "./usr/share/doc/veo-agent/licences.txt", "./usr/share/doc/veo-agent/copyright"
    )
    assert inside["./usr/share/doc/veo-agent/licences.txt"].decode() == TEXTS
    assert "licences.txt, beside this file" in inside["./usr/share/doc/veo-agent/copyright"].decode()
    page = await client.get("/download/deb-amd64/licences?lang=en", headers=HTML)
    assert page.status_code == 200 and "aiortc" in page.text
    assert 'href="/download/deb-amd64/licences.txt"' in page.text
    download = await client.get("/download?lang=en", headers=HTML)
    assert 'id="row-deb-licences" href="/download/deb-amd64/licences"' in download.text


async def test_every_page_but_the_console_offers_the_servers_source_once_it_is_named(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """AGPL-3.0 section 13: whoever uses the server over the network is offered its source."""
    assert 'class="site-footer"' not in (await client.get("/login?lang=en", headers=HTML)).text
    app.state.settings.source_url = "https://git.example.org/acme/veo"
    for path in ("/login?lang=en", "/join?lang=en", "/download?lang=en"):
        html = (await client.get(path, headers=HTML)).text
        link = '<a href="https://git.example.org/acme/veo" rel="noopener">Source code of this veo server</a>'
        assert link in html, path
    es = (await client.get("/login?lang=es", headers=HTML)).text
    assert gettext_for("es").gettext("Source code of this veo server") in es
