"""The ``.rpm`` for computers an IT department manages (Fedora, RHEL, openSUSE): the ``.deb``'s twin.

``build_rpm(binary, servers, organization, version, out_dir)`` wraps the operator's Linux build
(``veo admin agent package-rpm``) with ``rpmbuild -bb`` into ``veo-agent-<version>-1.x86_64.rpm``.
It installs the files the ``.deb`` installs (:mod:`veo.server.downloads.package_tree`: the program,
``/usr/bin/veo-agent``, the launcher with ``x-scheme-handler/veo``, the icon, ``/etc/veo/agent.json``
as ``%config(noreplace)``), with the copyright file as ``%license`` in
``/usr/share/licenses/veo-agent/`` and beside it, when the build has them, the licence texts
``make agent`` collected (``licences.txt``, also ``%license``); ``%post``/``%postun`` run
``update-desktop-database`` (and ``gtk-update-icon-cache``) when present.

The build is packaged as is: no ``brp-strip`` (stripping the one-file build would cut off the
archive PyInstaller appends to it), no debuginfo, no ``.build-id`` links, and no automatic
dependencies (rpm would read the bundled libraries' needs; they are inside). ``Requires`` names
what the bundle leaves to the system, as the ``.deb``'s ``Depends`` does: ``glibc`` at least as new
as the build's floor (from its manifest), the libraries by their soname capabilities
(``libX11.so.6()(64bit)``: what Fedora's, RHEL's and openSUSE's own packages require, whatever
each distribution names the package), and fontconfig, xdg-utils and desktop-file-utils, which
carry those names on all three.

What the operator gives (organization, servers) reaches the spec file only after its ``%`` are
doubled: a ``%(…)`` there would otherwise run a command on the server while packaging.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from veo.protocol.agent_config import InstalledConfig
from veo.server.downloads import package_tree
from veo.server.downloads.package_tree import PACKAGE
from veo.server.lang import _

ARCHITECTURE = "x86_64"
RELEASE = "1"
LICENSE_FILE = f"/usr/share/licenses/{PACKAGE}/copyright"
#: What the bundle takes from the system (the .deb's Depends, in the names RPM distributions resolve).
SYSTEM_REQUIRES = (
    "libstdc++.so.6()(64bit)",
    "libgcc_s.so.1()(64bit)",
    "libexpat.so.1()(64bit)",
    "libX11.so.6()(64bit)",
    "libxcb.so.1()(64bit)",
    "libxcb-randr.so.0()(64bit)",
    "libxcb-render.so.0()(64bit)",
    "libxcb-shm.so.0()(64bit)",
    "libxcb-xfixes.so.0()(64bit)",
    "fontconfig",
    "xdg-utils",
    "desktop-file-utils",
)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")
_PLAIN_PATH = re.compile(r"^[A-Za-z0-9/._+-]+$")

#: ``%post`` and ``%postun`` (both on upgrade too: the cache is rebuilt from what is there).
SCRIPT = """if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q /usr/share/applications || :
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then
    gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || :
fi
exit 0
"""
#: ``%preun``: the enrolled computer's service stopped and disabled on removal (not on upgrade).
PREUN = """if [ $1 -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl disable --now veo-agent.service >/dev/null 2>&1 || :
fi
exit 0
"""
#: Appended to ``%post``/``%postun``: systemd rereads the unit (installed, never enabled here).
RELOAD = """if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
"""


def rpm_name(version: str) -> str:
    """``veo-agent-0.2.0-1.x86_64.rpm``: rpmbuild's own file name for the package."""
    return f"{PACKAGE}-{version}-{RELEASE}.{ARCHITECTURE}.rpm"


def build_rpm(binary: Path, servers: list[str], organization: str, version: str, out_dir: Path) -> Path:
    """Wrap the one-file agent at ``binary`` into ``out_dir/veo-agent-<version>-1.x86_64.rpm``.

    Raises ``ValueError`` for what the caller gave (servers, version, a file that is no plain
    build) and ``RuntimeError`` when ``rpmbuild`` is missing or fails; the messages are sentences.
    """
    config = InstalledConfig(servers=servers, organization=organization)  # ValidationError is a ValueError
    package_tree.check_version(version)
    package_tree.check_binary(binary)
    rpmbuild = shutil.which("rpmbuild")
    if rpmbuild is None:
        raise RuntimeError(
            _("rpmbuild is missing: install the rpm package (rpm-build on Fedora) to make .rpm packages.")
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix=".rpm-root-", dir=out_dir) as tmp,
        tempfile.TemporaryDirectory(prefix="veo-rpm-") as short,
    ):
        # rpmbuild's own %install prologue leaves paths unquoted and it reads macros in every path
        # it is given: it only ever sees this link to the work folder (on out_dir's file system).
        work = Path(short) / "w"
        work.symlink_to(Path(tmp).resolve(), target_is_directory=True)
        if not _PLAIN_PATH.match(str(work)):
            raise RuntimeError(
                _("rpmbuild cannot work in %(path)s: set TMPDIR to a folder without spaces or %% in it.")
                % {"path": short}
            )
        root = work / "root"
        package_tree.write_tree(
            root, binary, config, version, LICENSE_FILE, with_licences=True, with_service=True
        )
        licences = package_tree.licences_of(binary) is not None
        spec = work / f"{PACKAGE}.spec"
        glibc = package_tree.glibc_floor(binary)
        spec.write_text(spec_text(config, version, glibc, licences), encoding="utf-8")
        defines = {
            "_topdir": str(work / "top"),
            "_rpmdir": str(work / "rpms"),
            "_tmppath": str(work),
            # the build as is: stripping it would cut off PyInstaller's archive
            "__os_install_post": "%{nil}",
            "__spec_install_post": "%{nil}",
            "debug_package": "%{nil}",
            "_build_id_links": "none",
            # the build inside is already compressed: gzip, as the .deb
            "_binary_payload": "w6.gzdio",
        }
        command = [rpmbuild, "-bb", "--quiet"]
        for name, value in defines.items():
            command += ["--define", f"{name} {value}"]
        command.append(str(spec))
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env={**os.environ, "VEO_RPM_ROOT": str(root), "LC_ALL": "C"},
        )
        built = sorted((work / "rpms").rglob("*.rpm"))
        if result.returncode != 0 or len(built) != 1:
            lines = (result.stderr or result.stdout).strip().splitlines()
            errors = [line for line in lines if line.startswith("error:")] or lines
            raise RuntimeError(
                _("rpmbuild could not build the package: %(detail)s")
                % {"detail": errors[0].removeprefix("error:").strip() if errors else result.returncode}
            )
        target = out_dir / rpm_name(version)
        built[0].replace(target)
    return target


def _escape(text: str) -> str:
    """Text for a spec file or a macro: one line, ``%`` doubled (no macro, no command runs)."""
    return _UNSAFE.sub(" ", text).replace("%", "%%").strip()


def spec_text(config: InstalledConfig, version: str, glibc: str, licences: bool = False) -> str:
    """The spec: ``licences`` lists the collected licence texts (``write_tree`` put them beside the
    copyright file) as ``%license`` too."""
    organization = _escape(config.organization)
    servers = ", ".join(_escape(server) for server in config.servers)
    for_whom = f" for {organization}" if organization else ""
    requires = [f"glibc >= {glibc}", *SYSTEM_REQUIRES]
    return "\n".join(
        [
            f"Name: {PACKAGE}",
            f"Version: {version}",
            f"Release: {RELEASE}",
            f"Summary: veo remote support agent{for_whom}",
            "License: AGPL-3.0-or-later",
            f"BuildArch: {ARCHITECTURE}",
            "AutoReqProv: no",
            *(f"Requires: {requirement}" for requirement in requires),
            "",
            "%description",
            "Lets a technician see this computer's screen, and with the user's consent",
            "control it, through the veo server(s) the package was made for:",
            f"{servers}.",
            "Opens veo:// join links from the server's join page (x-scheme-handler/veo).",
            "",
            "%install",
            'cp -a "$VEO_RPM_ROOT"/. "%{buildroot}"/',
            "",
            "%files",
            "%defattr(-,root,root,-)",
            f"%dir /usr/lib/{PACKAGE}",
            package_tree.PROGRAM,
            package_tree.COMMAND,
            package_tree.DESKTOP_FILE,
            package_tree.ICON_FILE,
            package_tree.SERVICE_FILE,
            "%dir /etc/veo",
            f"%config(noreplace) {package_tree.CONFIG_FILE}",
            f"%dir /usr/share/licenses/{PACKAGE}",
            f"%license {LICENSE_FILE}",
            *([f"%license /usr/share/licenses/{PACKAGE}/{package_tree.LICENCES_NAME}"] if licences else []),
            "",
            "%post",
            RELOAD + SCRIPT,
            "%preun",
            PREUN,
            "%postun",
            RELOAD + SCRIPT,
        ]
    )
