"""The ``.rpm`` on the server: ``veo admin agent package-rpm``, platform ``rpm-x86_64``, its row on /download.

The Linux build is a stand-in (``downloads_support.py``): ``build_rpm`` looks only at its ELF header,
and what the server does with the package (check it, list it, serve it as stored) does not depend on
what is inside. Without rpmbuild the packaging test skips, except under ``CI=true``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from tests.integration.downloads_support import stand_in, write_manifest
from tests.integration.test_downloads import HTML, LINUX_UA, _agents, _place, _run_admin
from tests.packaging.support import skip_or_fail

from veo.server.downloads import store

RPM_MAGIC = b"\xed\xab\xee\xdb"


def test_package_rpm_needs_a_linux_build_and_good_servers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    code, _out, err = _run_admin([*data, "agent", "package-rpm", "--server", "ftp://example.org"], capsys)
    assert code == 2 and "invalid --server" in err and "http(s) address" in err
    code, _out, err = _run_admin([*data, "agent", "package-rpm"], capsys)
    assert code == 1 and "No Linux build is in place to package" in err


def test_package_rpm_puts_an_rpm_for_the_named_servers_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("rpmbuild") is None:
        skip_or_fail("rpmbuild is not installed (Debian package rpm)")
    data = ["--data-dir", str(tmp_path / "data")]
    assert _run_admin([*data, "agent", "add", str(stand_in(tmp_path / "dist"))], capsys)[0] == 0
    code, out, err = _run_admin(
        [*data, "agent", "package-rpm", "--server", "https://support.example.org", "--organization", "ACME"],
        capsys,
    )
    assert code == 0, err
    assert "veo-agent-0.2.0-1.x86_64.rpm" in out and "https://support.example.org" in out
    folder = tmp_path / "data" / "agents"
    built = store.find(folder, "rpm-x86_64")
    assert built is not None and built.path.name == "veo-agent-0.2.0-1.x86_64.rpm"
    assert built.path.read_bytes().startswith(RPM_MAGIC)
    assert built.manifest.sha256 == hashlib.sha256(built.path.read_bytes()).hexdigest()
    assert (built.manifest.model_extra or {})["servers"] == ["https://support.example.org"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no work folder left
    config = subprocess.run(
        ["rpm", "-qp", "--qf", "%{SUMMARY}", str(built.path)], capture_output=True, text=True, check=True
    )
    assert config.stdout == "veo remote support agent for ACME"
    # both packages side by side: one per platform
    code, out, err = _run_admin([*data, "agent", "list"], capsys)
    assert code == 0 and "rpm-x86_64: 0.2.0" in out and "linux-x86_64: 0.2.0" in out, err


def test_package_rpm_without_rpmbuild_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    assert _run_admin([*data, "agent", "add", str(stand_in(tmp_path / "dist"))], capsys)[0] == 0
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, out, err = _run_admin([*data, "agent", "package-rpm"], capsys)
    assert code == 1 and out == ""
    assert (
        err.startswith("veo admin: The .rpm could not be made: rpmbuild is missing") and err.count("\n") == 1
    )
    assert store.find(tmp_path / "data" / "agents", "rpm-x86_64") is None


def _rpm_stand_in(where: Path) -> Path:
    where.mkdir(parents=True)
    path = where / "veo-agent-0.2.0-1.x86_64.rpm"
    path.write_bytes(RPM_MAGIC + bytes(8192))
    write_manifest(path, "rpm-x86_64", "0.2.0")
    return path


async def test_the_rpm_is_listed_and_served_as_stored(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    _place(app, tmp_path)
    page = await client.get("/download?lang=en", headers={**HTML, "user-agent": LINUX_UA})
    # only the rpm systems at or above the build's glibc floor (2.35): not RHEL 9 (2.34)
    assert 'id="row-rpm"' in page.text
    assert "Linux computers managed by IT (Fedora, RHEL 10, openSUSE Tumbleweed)" in page.text
    assert "/download/rpm-x86_64" not in page.text  # nothing to link to yet
    rpm = _rpm_stand_in(tmp_path / "dist-rpm")
    store.add(_agents(app), rpm)
    page = await client.get("/download?lang=en", headers={**HTML, "user-agent": LINUX_UA})
    assert 'href="/download/rpm-x86_64"' in page.text and "Download the .rpm package" in page.text
    # whoever serves the .rpm distributes its GPL parts: the licences are offered beside it
    assert (
        '<a id="row-rpm-licences" href="/download/rpm-x86_64/licences">Licences and source code</a>'
        in page.text
    )
    for lang in ("en", "es"):  # the page names the package, never the internal id
        licences = await client.get(f"/download/rpm-x86_64/licences?lang={lang}", headers=HTML)
        assert licences.status_code == 200
        assert "(rpm-x86_64)" not in licences.text
    english = await client.get("/download/rpm-x86_64/licences?lang=en", headers=HTML)
    assert "veo&#39;s .rpm package for Linux, version 0.2.0" in english.text.replace("&#x27;", "&#39;")
    got = await client.get("/download/rpm-x86_64")
    assert got.status_code == 200
    assert got.content == rpm.read_bytes()  # as stored: no trailer
    assert got.headers["content-type"] == "application/x-rpm"
    assert 'filename="veo-agent-0.2.0-1.x86_64.rpm"' in got.headers["content-disposition"]
