"""The ``.deb`` (``veo.server.downloads.deb.build_deb``): its files and fields, its refusals, a real install.

Most tests wrap a stand-in program (an ELF header is all ``build_deb`` looks at) and read the
package back with ``dpkg-deb -c/-f/-x``; one installs the real build with ``dpkg -i`` on this
machine, checks that ``xdg-mime`` names veo's launcher for ``veo:`` links and that the installed
agent runs, then purges it (root only; under ``CI=true`` it never skips).
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
from veo.server.downloads import deb

SERVERS = ["https://support.example", "https://backup.example:8443/veo"]


@pytest.fixture(autouse=True)
def _dpkg_deb_installed() -> None:
    if shutil.which("dpkg-deb") is None:
        skip_or_fail("dpkg-deb is not installed")


def _program(path: Path) -> Path:
    path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(4096))
    path.chmod(0o755)
    return path


def _dpkg_deb(*args: str) -> str:
    return subprocess.run(["dpkg-deb", *args], capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.fixture
def package(tmp_path: Path) -> Path:
    binary = _program(tmp_path / "veo-agent-linux-x86_64")
    (tmp_path / "veo-agent-linux-x86_64.json").write_text(json.dumps({"glibc": "2.35"}))
    return deb.build_deb(binary, SERVERS, "ACME IT\nInjected: field", "0.2.0", tmp_path / "out")


def test_files_and_modes(package: Path) -> None:
    assert package.name == "veo-agent_0.2.0_amd64.deb"
    listing = {}
    for line in _dpkg_deb("-c", str(package)).splitlines():
        mode, owner, _size, _date, _time, path, *rest = line.split()
        listing[path.removeprefix(".")] = (mode, owner, rest)
    files = {path: value for path, value in listing.items() if not value[0].startswith("d")}
    assert set(files) == {
        "/usr/lib/veo-agent/veo-agent",
        "/usr/bin/veo-agent",
        "/usr/share/applications/veo-agent.desktop",
        "/usr/share/icons/hicolor/scalable/apps/veo-agent.svg",
        "/etc/veo/agent.json",
        "/usr/share/doc/veo-agent/copyright",
        "/usr/lib/systemd/system/veo-agent.service",
    }
    assert files["/usr/lib/veo-agent/veo-agent"][0] == "-rwxr-xr-x"
    assert files["/usr/bin/veo-agent"][0].startswith("l")
    assert files["/usr/bin/veo-agent"][2] == ["->", "../lib/veo-agent/veo-agent"]
    for path in (
        "/etc/veo/agent.json",
        "/usr/share/applications/veo-agent.desktop",
        "/usr/lib/systemd/system/veo-agent.service",
    ):
        assert files[path][0] == "-rw-r--r--"
    assert {owner for _mode, owner, _rest in listing.values()} == {"root/root"}


def test_control_fields(package: Path) -> None:
    fields = {
        name: _dpkg_deb("-f", str(package), name).strip()
        for name in ("Package", "Version", "Architecture", "Depends", "Maintainer", "Description")
    }
    assert fields["Package"] == "veo-agent"
    assert fields["Version"] == "0.2.0"
    assert fields["Architecture"] == "amd64"
    depends = [d.strip() for d in fields["Depends"].split(",")]
    assert depends[0] == "libc6 (>= 2.35)"
    assert {"libx11-6", "xdg-utils", "libstdc++6", "libexpat1", "desktop-file-utils"} <= set(depends)
    # the organization's line break does not make a control field of its own
    assert "\n" not in fields["Maintainer"] and fields["Maintainer"].startswith("ACME IT Injected: field")
    assert _dpkg_deb("-f", str(package), "Injected").strip() == ""
    assert "https://support.example" in fields["Description"]


def test_conffile_launcher_and_scripts(package: Path, tmp_path: Path) -> None:
    root, control = tmp_path / "root", tmp_path / "control"
    _dpkg_deb("-x", str(package), str(root))
    _dpkg_deb("-e", str(package), str(control))
    assert (control / "conffiles").read_text() == "/etc/veo/agent.json\n"
    config = InstalledConfig.model_validate_json((root / "etc/veo/agent.json").read_text())
    assert config.servers == SERVERS and config.organization == "ACME IT\nInjected: field"
    desktop = (root / "usr/share/applications/veo-agent.desktop").read_text().splitlines()
    assert "Exec=/usr/bin/veo-agent -- %u" in desktop
    assert "MimeType=x-scheme-handler/veo;" in desktop
    assert "Terminal=false" in desktop
    assert any(line.startswith("Name[es]=") for line in desktop)
    assert "Comment[es]=Comparta la pantalla de este equipo con un técnico, con su consentimiento." in desktop
    if shutil.which("desktop-file-validate"):
        checked = subprocess.run(
            ["desktop-file-validate", str(root / "usr/share/applications/veo-agent.desktop")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout
    assert (root / "usr/share/icons/hicolor/scalable/apps/veo-agent.svg").read_text().startswith("<?xml")
    for script in ("postinst", "postrm"):
        text = (control / script).read_text()
        assert os.access(control / script, os.X_OK)
        assert "update-desktop-database" in text
        subprocess.run(["sh", "-n", str(control / script)], check=True)
    # the service is installed, stopped on removal, and never enabled by the package (enrol does)
    prerm = (control / "prerm").read_text()
    assert "disable --now veo-agent.service" in prerm
    subprocess.run(["sh", "-n", str(control / "prerm")], check=True)
    assert all("enable " not in (control / s).read_text() for s in ("postinst", "postrm", "prerm"))


def test_refusals_are_sentences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = _program(tmp_path / "veo-agent-linux-x86_64")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="server"):
        deb.build_deb(binary, ["ftp://nowhere"], "", "0.2.0", out)
    with pytest.raises(ValueError, match="not a package version"):
        deb.build_deb(binary, SERVERS, "", "0.2.0; rm -rf /", out)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="is not a Linux program"):
        deb.build_deb(text, SERVERS, "", "0.2.0", out)
    with pytest.raises(ValueError, match="is not a file"):
        deb.build_deb(tmp_path / "missing", SERVERS, "", "0.2.0", out)
    downloaded = _program(tmp_path / "veo-agent")
    with downloaded.open("ab") as handle:
        handle.write(seal(EmbeddedConfig(server="https://support.example", code="123456789")))
    with pytest.raises(ValueError, match="carries a downloaded configuration"):
        deb.build_deb(downloaded, SERVERS, "", "0.2.0", out)
    monkeypatch.setattr(deb.shutil, "which", lambda _name: None)
    with pytest.raises(RuntimeError, match="dpkg-deb is missing"):
        deb.build_deb(binary, SERVERS, "", "0.2.0", out)
    assert not list(out.glob("*.deb"))


def test_a_line_break_in_a_server_address_is_refused_before_any_package(tmp_path: Path) -> None:
    """A server address reaches the control file and the conffile: a line break could start a
    control field of its own, so the configuration refuses it (``InstalledConfig``)."""
    binary = _program(tmp_path / "agent")
    with pytest.raises(ValueError, match="control characters"):
        deb.build_deb(binary, ["https://a.example/x\nInjected: y"], "", "0.2.0", tmp_path)
    assert not list(tmp_path.glob("*.deb"))


def test_glibc_floor_without_a_manifest_is_the_documented_one(tmp_path: Path) -> None:
    package = deb.build_deb(_program(tmp_path / "agent"), SERVERS, "", "0.2.0", tmp_path)
    assert _dpkg_deb("-f", str(package), "Depends").startswith(f"libc6 (>= {deb.DEFAULT_GLIBC}),")


def _installed(package: str) -> bool:
    status = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Status}", package], capture_output=True, text=True, check=False
    )
    return "installed" in status.stdout.split()


def _default_handler(home: Path) -> str:
    return subprocess.run(
        [*bare_env(home), "xdg-mime", "query", "default", "x-scheme-handler/veo"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    ).stdout.strip()


def test_dpkg_install_makes_veo_the_link_handler_and_purge_removes_it(
    built_agent: BuiltAgent, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        skip_or_fail("installing a package needs root")
    if shutil.which("dpkg") is None or shutil.which("xdg-mime") is None:
        skip_or_fail("dpkg and xdg-utils are needed")
    if _installed(deb.PACKAGE):
        skip_or_fail("veo-agent is already installed on this machine: the test would remove it")
    package = deb.build_deb(
        built_agent.path, ["http://127.0.0.1:9"], "ACME IT", str(built_agent.manifest["version"]), tmp_path
    )
    home = tmp_path / "home"
    home.mkdir()
    installed = subprocess.run(["dpkg", "-i", str(package)], capture_output=True, text=True, timeout=300)
    try:
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert _default_handler(home) == "veo-agent.desktop"
        config = InstalledConfig.model_validate_json(Path("/etc/veo/agent.json").read_text())
        assert config.servers == ["http://127.0.0.1:9"]
        helped = subprocess.run(
            [*bare_env(home, "LANG=es_ES.UTF-8"), "/usr/bin/veo-agent", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        output = helped.stdout + helped.stderr
        assert helped.returncode == 0 and "Comparta la pantalla" in helped.stdout, output
    finally:
        purged = subprocess.run(["dpkg", "--purge", deb.PACKAGE], capture_output=True, text=True, timeout=300)
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert not _installed(deb.PACKAGE)
    for path in ("/usr/bin/veo-agent", "/usr/lib/veo-agent", "/etc/veo/agent.json"):
        assert not Path(path).exists(), f"{path} is left after dpkg --purge"
    assert _default_handler(home) != "veo-agent.desktop"
