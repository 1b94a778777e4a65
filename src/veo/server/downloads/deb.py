"""The ``.deb`` for computers an IT department manages: the one-file agent, a launcher, a ``veo:`` handler.

``build_deb(binary, servers, organization, version, out_dir)`` wraps the operator's Linux build
(``veo admin agent package-deb``) with ``dpkg-deb --build --root-owner-group``. The installed files
are written by :mod:`veo.server.downloads.package_tree` (the ``.rpm`` installs the same ones):

* ``/usr/lib/veo-agent/veo-agent``: the one-file build as is (no trailer: an installed agent reads
  ``/etc/veo/agent.json``), ``/usr/bin/veo-agent`` a symbolic link to it;
* ``/usr/share/applications/veo-agent.desktop``: ``Exec=/usr/bin/veo-agent -- %u`` and
  ``MimeType=x-scheme-handler/veo;``, so the join page's *Open veo* button starts it with the link
  (``--``: whatever a web page puts in the link stays the link, never an option);
* ``/usr/share/icons/hicolor/scalable/apps/veo-agent.svg``;
* the conffile ``/etc/veo/agent.json`` (:class:`~veo.protocol.agent_config.InstalledConfig`): the
  servers a ``veo:`` link may name (an IT department edits it, dpkg keeps the edit on upgrade);
* ``/usr/lib/systemd/system/veo-agent.service``: the enrolled computer's link to its server
  (company devices), installed but never enabled by the package: ``veo-agent enrol`` enables it,
  ``prerm`` stops and disables it on removal;
* ``postinst``/``postrm`` run ``update-desktop-database`` when present: its ``mimeinfo.cache`` is
  how ``xdg-mime``, GLib and KDE find the handler of ``x-scheme-handler/veo`` when no
  ``mimeapps.list`` names one (desktop-file-utils, a dependency, also runs it from a dpkg trigger).

``Depends`` names what the build takes from the system rather than bundling it (docs/agent-build.md):
the C library at least as new as the build needs, GCC's runtime, expat, the X client libraries
mss loads at run time, fontconfig's configuration, xdg-utils and desktop-file-utils.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from veo.protocol.agent_config import InstalledConfig
from veo.server.downloads import package_tree
from veo.server.downloads.package_tree import DEFAULT_GLIBC, PACKAGE, desktop_entry
from veo.server.lang import _

__all__ = [
    "ARCHITECTURE",
    "DEFAULT_GLIBC",
    "PACKAGE",
    "SYSTEM_DEPENDS",
    "build_deb",
    "deb_name",
    "desktop_entry",
]

ARCHITECTURE = "amd64"
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
_CONTROL_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")

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
    # the unit is installed, never enabled here: `veo-agent enrol` enables it on enrolled computers
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload >/dev/null 2>&1 || true
    fi
fi
exit 0
"""

PRERM = """#!/bin/sh
# veo-agent: stop the enrolled computer's service before its program goes away.
set -e
if [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then
    systemctl disable --now veo-agent.service >/dev/null 2>&1 || true
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
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
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
    package_tree.check_version(version)
    package_tree.check_binary(binary)
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        raise RuntimeError(_("dpkg-deb is missing: install the dpkg package to make .deb packages."))
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".deb-root-", dir=out_dir) as tmp:
        root = Path(tmp) / "root"
        _tree(root, binary, config, version)
        control = _control(root, config, version, package_tree.glibc_floor(binary))
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


def _tree(root: Path, binary: Path, config: InstalledConfig, version: str) -> None:
    # /usr/share/doc/veo-agent/licences.txt: every bundled part's licence text, when the build has them
    copyright_file = f"/usr/share/doc/{PACKAGE}/copyright"
    package_tree.write_tree(
        root, binary, config, version, copyright_file, with_licences=True, with_service=True
    )
    debian = root / "DEBIAN"
    package_tree.write_file(debian / "conffiles", package_tree.CONFIG_FILE + "\n")
    package_tree.write_file(debian / "postinst", POSTINST, 0o755)
    package_tree.write_file(debian / "prerm", PRERM, 0o755)
    package_tree.write_file(debian / "postrm", POSTRM, 0o755)
    package_tree.fix_directory_modes(root)


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
