"""The ``.deb`` for computers an IT department manages: the one-file agent, a launcher, a ``veo:`` handler.

``build_deb(binary, servers, organization, version, out_dir)`` wraps the operator's Linux build
(``veo admin agent package-deb``) with ``dpkg-deb --build --root-owner-group``:

* ``/usr/lib/veo-agent/veo-agent``: the one-file build as is (no trailer: an installed agent reads
  ``/etc/veo/agent.json``), ``/usr/bin/veo-agent`` a symbolic link to it;
* ``/usr/share/applications/veo-agent.desktop``: ``Exec=/usr/bin/veo-agent -- %u`` and
  ``MimeType=x-scheme-handler/veo;``, so the join page's *Open veo* button starts it with the link
  (``--``: whatever a web page puts in the link stays the link, never an option);
* ``/usr/share/icons/hicolor/scalable/apps/veo-agent.svg``;
* the conffile ``/etc/veo/agent.json`` (:class:`~veo.protocol.agent_config.InstalledConfig`): the
  servers a ``veo:`` link may name (an IT department edits it, dpkg keeps the edit on upgrade);
* ``postinst``/``postrm`` run ``update-desktop-database`` when present: its ``mimeinfo.cache`` is
  how ``xdg-mime``, GLib and KDE find the handler of ``x-scheme-handler/veo`` when no
  ``mimeapps.list`` names one (desktop-file-utils, a dependency, also runs it from a dpkg trigger).

``Depends`` names what the build takes from the system rather than bundling it (docs/agent-build.md):
the C library at least as new as the build needs, GCC's runtime, expat, the X client libraries
mss loads at run time, fontconfig's configuration, xdg-utils and desktop-file-utils.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from veo.i18n import N_, gettext_for
from veo.protocol import agent_config
from veo.protocol.agent_config import InstalledConfig
from veo.server.lang import _

PACKAGE = "veo-agent"
ARCHITECTURE = "amd64"
#: The oldest glibc the one-file build runs with when its manifest does not say (docs/agent-build.md).
DEFAULT_GLIBC = "2.35"
#: What the bundle takes from the system (each an ordinary package of Debian 12 and Ubuntu 22.04).
SYSTEM_DEPENDS = (
    "libstdc++6",
    "libgcc-s1",
    "libexpat1",
    "libx11-6",
    "libxcb1",
    "libxcb-randr0",
    "libxcb-render0",
    "libxcb-shm0",
    "libxcb-xfixes0",
    "fontconfig-config",
    "xdg-utils",
    "desktop-file-utils",
)
_VERSION = re.compile(r"^[0-9][A-Za-z0-9.+~]*$")
_GLIBC = re.compile(r"^[0-9]+\.[0-9]+$")
_CONTROL_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")

#: Shown in the launcher (English source, Spanish from the catalog).
LAUNCHER_NAME = N_("veo remote support")
LAUNCHER_COMMENT = N_("Share this computer's screen with a technician, with your consent.")
LAUNCHER_GENERIC = N_("Remote support")

ICON_SVG = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
  <rect x="2" y="2" width="60" height="60" rx="12" fill="#1d4ed8"/>
  <rect x="10" y="13" width="44" height="30" rx="3" fill="none" stroke="#ffffff" stroke-width="4"/>
  <path d="M24 51h16M32 43v8" stroke="#ffffff" stroke-width="4" stroke-linecap="round"/>
  <path d="M17 28c4-6 9-9 15-9s11 3 15 9c-4 6-9 9-15 9s-11-3-15-9z" fill="#ffffff"/>
  <circle cx="32" cy="28" r="5" fill="#1d4ed8"/>
</svg>
"""

POSTINST = """#!/bin/sh
# veo-agent: register the launcher and the veo: link handler with the desktop.
set -e
if [ "$1" = "configure" ]; then
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q /usr/share/applications || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
    fi
fi
exit 0
"""

POSTRM = """#!/bin/sh
# veo-agent: forget the launcher and the veo: link handler; on purge, /etc/veo if it is empty.
set -e
case "$1" in
    remove|purge|abort-install|abort-upgrade)
        if command -v update-desktop-database >/dev/null 2>&1; then
            update-desktop-database -q /usr/share/applications || true
        fi
        ;;
esac
if [ "$1" = "purge" ]; then
    rmdir --ignore-fail-on-non-empty /etc/veo 2>/dev/null || true
fi
exit 0
"""


def deb_name(version: str) -> str:
    """``veo-agent_0.2.0_amd64.deb``: Debian's own file name for the package."""
    return f"{PACKAGE}_{version}_{ARCHITECTURE}.deb"


def build_deb(binary: Path, servers: list[str], organization: str, version: str, out_dir: Path) -> Path:
    """Wrap the one-file agent at ``binary`` into ``out_dir/veo-agent_<version>_amd64.deb``.

    Raises ``ValueError`` for what the caller gave (servers, version, a file that is no plain
    build) and ``RuntimeError`` when ``dpkg-deb`` is missing or fails; the messages are sentences.
    """
    config = InstalledConfig(servers=servers, organization=organization)  # ValidationError is a ValueError
    if not _VERSION.match(version):
        raise ValueError(_("%(version)s is not a package version (digits and dots).") % {"version": version})
    _check_binary(binary)
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        raise RuntimeError(_("dpkg-deb is missing: install the dpkg package to make .deb packages."))
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".deb-root-", dir=out_dir) as tmp:
        root = Path(tmp) / "root"
        _tree(root, binary, config, version)
        control = _control(root, config, version, _glibc_floor(binary))
        (root / "DEBIAN" / "control").write_text(control, encoding="utf-8")
        target = out_dir / deb_name(version)
        result = subprocess.run(
            # the build inside is already compressed: xz would take a minute to save a few percent
            [dpkg_deb, "--build", "--root-owner-group", "-Zgzip", "-z6", str(root), str(target)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise RuntimeError(
                _("dpkg-deb could not build the package: %(detail)s")
                % {"detail": detail[-1] if detail else result.returncode}
            )
    return target


def _check_binary(binary: Path) -> None:
    if not binary.is_file():
        raise ValueError(_("%(path)s is not a file.") % {"path": binary})
    with binary.open("rb") as handle:
        if handle.read(4) != b"\x7fELF":
            raise ValueError(_("%(path)s is not a Linux program.") % {"path": binary})
    try:
        embedded = agent_config.read_embedded(binary)
    except agent_config.AgentConfigError:
        embedded = None
        damaged = True
    else:
        damaged = False
    if embedded is not None or damaged:
        raise ValueError(
            _("%(path)s carries a downloaded configuration: package the build itself.") % {"path": binary}
        )


def _glibc_floor(binary: Path) -> str:
    """The build's glibc floor from its manifest (``<binary>.json``), else :data:`DEFAULT_GLIBC`."""
    try:
        manifest = json.loads(binary.with_name(binary.name + ".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DEFAULT_GLIBC
    glibc = manifest.get("glibc") if isinstance(manifest, dict) else None
    return glibc if isinstance(glibc, str) and _GLIBC.match(glibc) else DEFAULT_GLIBC


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def _tree(root: Path, binary: Path, config: InstalledConfig, version: str) -> None:
    lib = root / "usr" / "lib" / PACKAGE
    lib.mkdir(parents=True)
    shutil.copyfile(binary, lib / PACKAGE)
    (lib / PACKAGE).chmod(0o755)
    bin_dir = root / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / PACKAGE).symlink_to(f"../lib/{PACKAGE}/{PACKAGE}")
    _write(root / "usr" / "share" / "applications" / f"{PACKAGE}.desktop", desktop_entry())
    _write(root / "usr" / "share" / "icons" / "hicolor" / "scalable" / "apps" / f"{PACKAGE}.svg", ICON_SVG)
    _write(root / "etc" / "veo" / "agent.json", config.model_dump_json(indent=2) + "\n")
    _write(root / "usr" / "share" / "doc" / PACKAGE / "copyright", copyright_text(version))
    _write(root / "DEBIAN" / "conffiles", "/etc/veo/agent.json\n")
    _write(root / "DEBIAN" / "postinst", POSTINST, 0o755)
    _write(root / "DEBIAN" / "postrm", POSTRM, 0o755)
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)


def desktop_entry() -> str:
    """The launcher: English, with Spanish from veo's catalog."""
    es = gettext_for("es").gettext
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            f"Name={LAUNCHER_NAME}",
            f"Name[es]={es(LAUNCHER_NAME)}",
            f"GenericName={LAUNCHER_GENERIC}",
            f"GenericName[es]={es(LAUNCHER_GENERIC)}",
            f"Comment={LAUNCHER_COMMENT}",
            f"Comment[es]={es(LAUNCHER_COMMENT)}",
            f"Exec=/usr/bin/{PACKAGE} -- %u",
            f"Icon={PACKAGE}",
            "Terminal=false",
            "Categories=Network;RemoteAccess;",
            "MimeType=x-scheme-handler/veo;",
            f"StartupWMClass={PACKAGE}",
            "",
        ]
    )


def _control(root: Path, config: InstalledConfig, version: str, glibc: str) -> str:
    size_kib = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink()) // 1024
    organization = _CONTROL_UNSAFE.sub(" ", config.organization).strip()
    # one line each: InstalledConfig refuses control characters in an address; kept as a second fence
    servers = ", ".join(_CONTROL_UNSAFE.sub("", server) for server in config.servers)
    for_whom = f" for {organization}" if organization else ""
    return "\n".join(
        [
            f"Package: {PACKAGE}",
            f"Version: {version}",
            f"Architecture: {ARCHITECTURE}",
            f"Maintainer: {organization or 'veo'} <root@localhost>",
            f"Installed-Size: {size_kib + 1}",
            f"Depends: libc6 (>= {glibc}), {', '.join(SYSTEM_DEPENDS)}",
            "Section: net",
            "Priority: optional",
            f"Description: veo remote support agent{for_whom}",
            " Lets a technician see this computer's screen, and with the user's consent",
            " control it, through the veo server(s) the package was made for:",
            f" {servers}.",
            " Opens veo:// join links from the server's join page (x-scheme-handler/veo).",
            "",
        ]
    )


def copyright_text(version: str) -> str:
    """``/usr/share/doc/veo-agent/copyright``: what the file is, under which terms, where its source is."""
    return f"""Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: veo
Comment: /usr/lib/veo-agent/veo-agent is a one-file build (PyInstaller) of the veo agent {version}:
 Python 3.11 with the Python packages and native libraries the agent uses, among them FFmpeg
 from PyAV with libx264 and libx265 (GPL-2.0-or-later), numpy with OpenBLAS, Tcl/Tk and OpenSSL.
 veo's own code is under the GNU AGPL version 3 or later; every other part keeps its own licence
 (GPL, LGPL, Apache-2.0 and permissive licences, all compatible with GPLv3), and the file as a
 whole is conveyed under the terms of the GNU AGPL version 3 or later (section 13 of GPLv3 and
 AGPLv3). docs/agent-build.md in veo's source lists every part with its licence, and the build's
 manifest (veo-agent-linux-x86_64.json, beside the build on the server that made this package)
 lists the bundled Python distributions with their versions.
 Whoever hands out this package must also offer its corresponding source: veo's source at
 version {version} (packaging/ and constraints.txt in it pin every bundled part) and the
 sources of the bundled parts at those versions.

Files: *
Copyright: veo developers
License: AGPL-3.0-or-later
 The GNU Affero General Public License version 3 is at
 https://www.gnu.org/licenses/agpl-3.0.html
"""
