"""The ``.rpm`` (``veo.server.downloads.rpm.build_rpm``): its files, scripts and Requires, its refusals,
an install into a throwaway root.

Most tests wrap a stand-in program (an ELF header is all ``build_rpm`` looks at) and read the
package back with ``rpm -qp``; two install it with ``rpm -i --root`` into a folder of their own
(Debian's rpm has no Fedora to resolve the Requires against, hence ``--nodeps``, and no shell in
that root for the scriptlets, hence ``--noscripts``): the files land, ``agent.json`` is marked
as configuration, and the installed real build answers ``--help``. Without rpmbuild they skip,
except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.packaging.support import BuiltAgent, bare_env, skip_or_fail

from veo.protocol.agent_config import EmbeddedConfig, InstalledConfig, seal
from veo.server.downloads import deb, package_tree, rpm

SERVERS = ["https://support.example", "https://backup.example:8443/veo"]
FILES = {
    "/usr/lib/veo-agent/veo-agent",
    "/usr/bin/veo-agent",
    "/usr/share/applications/veo-agent.desktop",
    "/usr/share/icons/hicolor/scalable/apps/veo-agent.svg",
    "/etc/veo/agent.json",
    "/usr/share/licenses/veo-agent/copyright",
    "/usr/lib/systemd/system/veo-agent.service",
}


@pytest.fixture(autouse=True)
def _rpmbuild_installed() -> None:
    if shutil.which("rpmbuild") is None or shutil.which("rpm") is None:
        skip_or_fail("rpmbuild is not installed (Debian package rpm)")


def _program(path: Path) -> Path:
    path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(4096))
    path.chmod(0o755)
    return path


def _rpm(*args: str) -> str:
    return subprocess.run(["rpm", *args], capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.fixture
def package(tmp_path: Path) -> Path:
    binary = _program(tmp_path / "veo-agent-linux-x86_64")
    (tmp_path / "veo-agent-linux-x86_64.json").write_text(json.dumps({"glibc": "2.36"}))
    return rpm.build_rpm(
        binary, SERVERS, "ACME IT\n%(touch /tmp/veo-rpm-injected)", "0.2.0", tmp_path / "out"
    )


def _listing(package: Path) -> dict[str, list[str]]:
    listing = {}
    for line in _rpm("-qlpv", str(package)).splitlines():
        mode, _links, owner, group, _size, _month, _day, _time, path, *rest = line.split()
        listing[path] = [mode, f"{owner}/{group}", *rest]
    return listing


def test_files_and_modes_are_the_debs(package: Path) -> None:
    assert package.name == "veo-agent-0.2.0-1.x86_64.rpm"
    assert [p.name for p in package.parent.iterdir()] == [package.name]  # no work folder left
    listing = _listing(package)
    files = {path: value for path, value in listing.items() if not value[0].startswith("d")}
    assert set(files) == FILES
    assert {path for path, value in listing.items() if value[0].startswith("d")} == {
        "/usr/lib/veo-agent",
        "/etc/veo",
        "/usr/share/licenses/veo-agent",
    }
    assert files["/usr/lib/veo-agent/veo-agent"][0] == "-rwxr-xr-x"
    assert files["/usr/bin/veo-agent"][0].startswith("l")
    assert files["/usr/bin/veo-agent"][2:] == ["->", "../lib/veo-agent/veo-agent"]
    for path in ("/etc/veo/agent.json", "/usr/share/applications/veo-agent.desktop"):
        assert files[path][0] == "-rw-r--r--"
    assert {value[1] for value in listing.values()} == {"root/root"}
    # the same files as the .deb, but for where each format keeps the copyright
    assert FILES - {"/usr/share/licenses/veo-agent/copyright"} | {"/usr/share/doc/veo-agent/copyright"} == {
        "/usr/lib/veo-agent/veo-agent",
        "/usr/bin/veo-agent",
        package_tree.DESKTOP_FILE,
        package_tree.ICON_FILE,
        package_tree.CONFIG_FILE,
        package_tree.SERVICE_FILE,
        "/usr/share/doc/veo-agent/copyright",
    }


def test_header_requires_and_scripts(package: Path) -> None:
    header = _rpm("-qp", "--qf", "%{NAME}|%{VERSION}|%{RELEASE}|%{ARCH}|%{LICENSE}|%{SUMMARY}", str(package))
    name, version, release, arch, licence, summary = header.split("|")
    assert (name, version, release, arch, licence) == (
        "veo-agent",
        "0.2.0",
        "1",
        "x86_64",
        "AGPL-3.0-or-later",
    )
    # the organization's line break stays in one line, and its %(…) ran nothing while packaging
    assert summary == "veo remote support agent for ACME IT %(touch /tmp/veo-rpm-injected)"
    assert not Path("/tmp/veo-rpm-injected").exists()
    assert "https://backup.example:8443/veo" in _rpm("-qp", "--qf", "%{DESCRIPTION}", str(package))
    requires = {line.strip() for line in _rpm("-qp", "--requires", str(package)).splitlines()}
    assert "glibc >= 2.36" in requires  # the floor from the build's manifest
    assert {
        "libX11.so.6()(64bit)",
        "libxcb.so.1()(64bit)",
        "libstdc++.so.6()(64bit)",
        "libexpat.so.1()(64bit)",
        "fontconfig",
        "xdg-utils",
        "desktop-file-utils",
    } <= requires
    # nothing generated from the bundle: every requirement is one build_rpm names (or rpm's own)
    named = {"glibc >= 2.36", "/bin/sh", *rpm.SYSTEM_REQUIRES}
    assert {r for r in requires if not r.startswith("rpmlib(")} == named
    assert _rpm("-qp", "--provides", str(package)).split() == [
        "veo-agent",
        "=",
        "0.2.0-1",
        "veo-agent(x86-64)",
        "=",
        "0.2.0-1",
    ]
    scripts = _rpm("-qp", "--scripts", str(package))
    assert "postinstall scriptlet (using /bin/sh)" in scripts
    assert "postuninstall scriptlet (using /bin/sh)" in scripts
    # the service is stopped on removal and never enabled by the package (``veo-agent enrol`` does)
    assert "preuninstall scriptlet (using /bin/sh)" in scripts
    assert "disable --now veo-agent.service" in scripts
    assert "enable --now" not in scripts.replace("disable --now", "")
    assert scripts.count("update-desktop-database -q /usr/share/applications") == 2
    for tag in ("POSTIN", "POSTUN"):
        body = _rpm("-qp", "--qf", f"%{{{tag}}}", str(package))
        subprocess.run(["sh", "-n"], input=body, text=True, check=True, timeout=30)
    assert _rpm("-qp", "--qf", "%{PAYLOADCOMPRESSOR}", str(package)) == "gzip"


def test_config_licence_and_launcher(package: Path, tmp_path: Path) -> None:
    assert _rpm("-qpc", str(package)).split() == ["/etc/veo/agent.json"]
    assert _rpm("-qpL", str(package)).split() == ["/usr/share/licenses/veo-agent/copyright"]
    flags = _rpm("-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]", str(package))
    assert "/etc/veo/agent.json cn" in flags.splitlines()  # %config(noreplace)
    contents = _unpack(package, tmp_path / "unpacked")
    config = InstalledConfig.model_validate_json((contents / "etc/veo/agent.json").read_text())
    assert config.servers == SERVERS
    desktop = (contents / "usr/share/applications/veo-agent.desktop").read_text()
    assert desktop == deb.desktop_entry()
    assert "Exec=/usr/bin/veo-agent -- %u" in desktop.splitlines()
    assert "MimeType=x-scheme-handler/veo;" in desktop.splitlines()
    assert (contents / "usr/share/licenses/veo-agent/copyright").read_text() == package_tree.copyright_text(
        "0.2.0"
    )


def test_the_builds_licence_texts_go_along(tmp_path: Path) -> None:
    """``<build>.licences.txt`` (what make agent collected, kept beside the build) is installed as
    ``%license`` beside the copyright file, as the .deb does under /usr/share/doc."""
    binary = _program(tmp_path / "veo-agent-linux-x86_64")
    (tmp_path / "veo-agent-linux-x86_64.licences.txt").write_text("x264: GPL-2.0-or-later\n...\n")
    package = rpm.build_rpm(binary, SERVERS, "", "0.2.0", tmp_path / "out")
    assert _rpm("-qpL", str(package)).split() == [
        "/usr/share/licenses/veo-agent/copyright",
        "/usr/share/licenses/veo-agent/licences.txt",
    ]
    contents = _unpack(package, tmp_path / "unpacked")
    assert (contents / "usr/share/licenses/veo-agent/licences.txt").read_text().startswith("x264:")
    assert (
        "licences.txt, beside this file" in (contents / "usr/share/licenses/veo-agent/copyright").read_text()
    )


def _unpack(package: Path, into: Path) -> Path:
    into.mkdir()
    cpio = subprocess.run(["rpm2cpio", str(package)], capture_output=True, check=True, timeout=120).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=into, check=True, timeout=120)
    return into


def _install(package: Path, root: Path) -> subprocess.CompletedProcess[str]:
    """``rpm -i`` into ``root`` with its own database (``root/var/lib/rpm``): nothing of this machine."""
    root.mkdir(exist_ok=True)
    return subprocess.run(
        [
            "rpm",
            "--root",
            str(root),
            "--dbpath",
            "/var/lib/rpm",
            "-i",
            "--nodeps",
            "--noscripts",
            str(package),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _query(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_installs_into_a_throwaway_root_keeps_an_edited_config_and_erases_clean(
    package: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    installed = _install(package, root)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    for path in FILES:
        assert (root / path.lstrip("/")).exists() or (root / path.lstrip("/")).is_symlink(), path
    assert os.readlink(root / "usr/bin/veo-agent") == "../lib/veo-agent/veo-agent"
    assert (root / "var/lib/rpm").is_dir()
    assert _query(root, "-qc", "veo-agent").stdout.split() == ["/etc/veo/agent.json"]
    verified = _query(root, "-V", "--nodeps", "veo-agent")
    assert verified.returncode == 0 and verified.stdout == "", verified.stdout + verified.stderr
    # an IT department's edit is kept: rpm -V names it as changed configuration, erase saves it
    (root / "etc/veo/agent.json").write_text('{"servers": ["https://other.example"]}\n')
    changed = _query(root, "-V", "--nodeps", "veo-agent").stdout.split()
    assert changed[0].startswith("S.5") and changed[1:] == ["c", "/etc/veo/agent.json"], changed
    erased = _query(root, "-e", "--nodeps", "--noscripts", "veo-agent")
    assert erased.returncode == 0, erased.stdout + erased.stderr
    assert "saved as /etc/veo/agent.json.rpmsave" in erased.stderr + erased.stdout
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_relative_to(root / "var"))
    assert left == [
        "etc",
        "etc/veo",
        "etc/veo/agent.json.rpmsave",
        "usr",
        "usr/bin",
        "usr/lib",
        "usr/lib/systemd",  # systemd's own directories, as the desktop's are: not the package's
        "usr/lib/systemd/system",
        "usr/share",
        "usr/share/applications",
        "usr/share/icons",
        "usr/share/icons/hicolor",
        "usr/share/icons/hicolor/scalable",
        "usr/share/icons/hicolor/scalable/apps",
        "usr/share/licenses",
    ]


def test_the_installed_real_build_runs(built_agent: BuiltAgent, tmp_path: Path) -> None:
    """Not stripped, not rewritten: the build from the package is the build, and it starts."""
    package = rpm.build_rpm(
        built_agent.path,
        ["http://127.0.0.1:9"],
        "ACME IT",
        str(built_agent.manifest["version"]),
        tmp_path / "out",
    )
    assert f"glibc >= {built_agent.manifest['glibc']}" in _rpm("-qp", "--requires", str(package)).splitlines()
    root = tmp_path / "root"
    installed = _install(package, root)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    program = root / "usr/lib/veo-agent/veo-agent"
    assert program.read_bytes() == built_agent.path.read_bytes()
    home = tmp_path / "home"
    home.mkdir()
    helped = subprocess.run(
        [*bare_env(home, "LANG=es_ES.UTF-8"), str(root / "usr/bin/veo-agent"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert helped.returncode == 0 and "Comparta la pantalla" in helped.stdout, helped.stdout + helped.stderr


def test_refusals_are_sentences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = _program(tmp_path / "veo-agent-linux-x86_64")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="server"):
        rpm.build_rpm(binary, ["ftp://nowhere"], "", "0.2.0", out)
    with pytest.raises(ValueError, match="control characters"):
        rpm.build_rpm(binary, ["https://a.example/x\nRequires: evil"], "", "0.2.0", out)
    with pytest.raises(ValueError, match="not a package version"):
        rpm.build_rpm(binary, SERVERS, "", "0.2.0-1%{x}", out)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="is not a Linux program"):
        rpm.build_rpm(text, SERVERS, "", "0.2.0", out)
    with pytest.raises(ValueError, match="is not a file"):
        rpm.build_rpm(tmp_path / "missing", SERVERS, "", "0.2.0", out)
    downloaded = _program(tmp_path / "veo-agent")
    with downloaded.open("ab") as handle:
        handle.write(seal(EmbeddedConfig(server="https://support.example", code="123456789")))
    with pytest.raises(ValueError, match="carries a downloaded configuration"):
        rpm.build_rpm(downloaded, SERVERS, "", "0.2.0", out)
    monkeypatch.setattr(rpm.shutil, "which", lambda _name: None)
    with pytest.raises(RuntimeError, match=r"^rpmbuild is missing: install the rpm package .*\.$"):
        rpm.build_rpm(binary, SERVERS, "", "0.2.0", out)
    assert not list(out.glob("*")) if out.exists() else True


def test_a_folder_with_spaces_and_percent_signs_is_fine(tmp_path: Path) -> None:
    """rpmbuild's own %install prologue leaves paths unquoted and expands macros in them: it is only
    ever given a plain link to the work folder, so the operator's folder can be named anything."""
    out = tmp_path / "agents dir %{_tmppath}"
    package = rpm.build_rpm(_program(tmp_path / "agent"), SERVERS, "", "0.2.0", out)
    assert package == out / "veo-agent-0.2.0-1.x86_64.rpm"
    assert [p.name for p in out.iterdir()] == [package.name]
    header = subprocess.run(
        ["rpm", "-qp", "--qf", "%{NAME}", "-"],
        stdin=package.open("rb"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert header.stdout == "veo-agent"


def test_a_failing_rpmbuild_is_a_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "rpmbuild"
    fake.write_text(
        "#!/bin/sh\necho 'error: Bad exit status from /var/tmp/rpm-tmp.x (%install)' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setattr(rpm.shutil, "which", lambda _name: str(fake))
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match=r"^rpmbuild could not build the package: Bad exit status"):
        rpm.build_rpm(_program(tmp_path / "agent"), SERVERS, "", "0.2.0", out)
    assert list(out.iterdir()) == []


def test_a_temporary_folder_rpmbuild_cannot_use_is_a_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd = tmp_path / "my temp"
    odd.mkdir()
    monkeypatch.setattr(rpm.tempfile, "tempdir", str(odd))
    out = tmp_path / "out"
    with pytest.raises(
        RuntimeError, match=r"^rpmbuild cannot work in .*my temp.*: set TMPDIR to a folder without"
    ):
        rpm.build_rpm(_program(tmp_path / "agent"), SERVERS, "", "0.2.0", out)
    assert list(out.iterdir()) == [] and list(odd.iterdir()) == []
