"""What the ``.deb`` and the ``.rpm`` both install, written once: the file tree and its checks.

:func:`write_tree` lays out, under a package's root:

* ``/usr/lib/veo-agent/veo-agent``: the one-file build as is (no trailer: an installed agent reads
  ``/etc/veo/agent.json``), ``/usr/bin/veo-agent`` a symbolic link to it;
* ``/usr/share/applications/veo-agent.desktop``: ``Exec=/usr/bin/veo-agent -- %u`` and
  ``MimeType=x-scheme-handler/veo;``, so the join page's *Open veo* button starts it with the link
  (``--``: whatever a web page puts in the link stays the link, never an option);
* ``/usr/share/icons/hicolor/scalable/apps/veo-agent.svg``;
* with ``with_service``: ``/usr/lib/systemd/system/veo-agent.service`` (:func:`service_unit`), the
  system service of an enrolled computer (``veo-agent service``; issue 17). Installed, never
  enabled by the package: ``veo-agent enrol`` enables it once IT enrolled the computer, and its
  ``ConditionPathExists`` keeps it off on a computer that is not enrolled;
* ``/etc/veo/agent.json`` (:class:`~veo.protocol.agent_config.InstalledConfig`): the servers a
  ``veo:`` link may name (a conffile of the ``.deb``, ``%config(noreplace)`` in the ``.rpm``: an IT
  department's edit survives an upgrade);
* the copyright file (terms and the source duty), where each packaging format keeps it, and beside
  it ``licences.txt``: the licence texts of every bundled part that ``make agent`` collected
  (``<build>.licences.txt``, kept beside the build by ``veo admin agent add``), when the build has them.

:func:`check_binary` refuses what is not the plain build; :func:`glibc_floor` reads the build's
oldest usable glibc from its manifest. ``deb.py`` and ``rpm.py`` add their own metadata and scripts.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from veo.config import AGENT_VERSION, is_agent_version
from veo.i18n import N_, gettext_for
from veo.protocol import agent_config
from veo.protocol.agent_config import InstalledConfig
from veo.server.lang import _

PACKAGE = "veo-agent"
#: The oldest glibc the one-file build runs with when its manifest does not say (docs/agent-build.md).
DEFAULT_GLIBC = "2.35"
#: Where the program is installed, and the command on PATH (a symbolic link to it).
PROGRAM = f"/usr/lib/{PACKAGE}/{PACKAGE}"
COMMAND = f"/usr/bin/{PACKAGE}"
DESKTOP_FILE = f"/usr/share/applications/{PACKAGE}.desktop"
ICON_FILE = f"/usr/share/icons/hicolor/scalable/apps/{PACKAGE}.svg"
CONFIG_FILE = "/etc/veo/agent.json"
SERVICE_NAME = f"{PACKAGE}.service"
SERVICE_FILE = f"/usr/lib/systemd/system/{SERVICE_NAME}"
#: Where the service keeps the device key, configuration and history (``StateDirectory=``).
STATE_DIR = f"/var/lib/{PACKAGE}"

#: A package's version: the one pattern every agent version follows (:data:`veo.config.AGENT_VERSION`).
VERSION = AGENT_VERSION
_GLIBC = re.compile(r"[0-9]+\.[0-9]+")  # matched whole (fullmatch): "2.35\n" is not a floor

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


def check_version(version: str) -> None:
    if not is_agent_version(version):
        raise ValueError(
            _(
                "%(version)s is not a package version (such as 0.2.0: numbers separated by dots, then "
                "optionally letters, digits, '.', '+' or '~'; 40 characters at most)."
            )
            % {"version": repr(version)[1:-1]}
        )


def check_binary(binary: Path) -> None:
    """A file, an ELF program, and no downloaded configuration appended (``ValueError``: a sentence)."""
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


def glibc_floor(binary: Path) -> str:
    """The build's glibc floor from its manifest (``<binary>.json``), else :data:`DEFAULT_GLIBC`."""
    try:
        manifest = json.loads(binary.with_name(binary.name + ".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DEFAULT_GLIBC
    glibc = manifest.get("glibc") if isinstance(manifest, dict) else None
    return glibc if isinstance(glibc, str) and _GLIBC.fullmatch(glibc) else DEFAULT_GLIBC


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def write_tree(
    root: Path,
    binary: Path,
    config: InstalledConfig,
    version: str,
    copyright_path: str,
    with_licences: bool = False,
    with_service: bool = False,
) -> None:
    """The installed files under ``root`` (see the module's docstring); directories 0755.

    ``with_licences``: install the build's collected licence texts, when it has them, beside the
    copyright file as :data:`LICENCES_NAME` (a format whose file list is explicit must list it:
    :func:`licences_of` says whether there are any).
    """
    lib = root / PROGRAM.lstrip("/")
    lib.parent.mkdir(parents=True)
    shutil.copyfile(binary, lib)
    lib.chmod(0o755)
    command = root / COMMAND.lstrip("/")
    command.parent.mkdir(parents=True)
    command.symlink_to(f"../lib/{PACKAGE}/{PACKAGE}")
    write_file(root / DESKTOP_FILE.lstrip("/"), desktop_entry())
    write_file(root / ICON_FILE.lstrip("/"), ICON_SVG)
    write_file(root / CONFIG_FILE.lstrip("/"), config.model_dump_json(indent=2) + "\n")
    if with_service:
        write_file(root / SERVICE_FILE.lstrip("/"), service_unit())
    licences = licences_of(binary) if with_licences else None
    copyright_file = root / copyright_path.lstrip("/")
    write_file(copyright_file, copyright_text(version, licences is not None))
    if licences is not None:
        shutil.copyfile(licences, copyright_file.with_name(LICENCES_NAME))
        copyright_file.with_name(LICENCES_NAME).chmod(0o644)
    fix_directory_modes(root)


def licences_of(binary: Path) -> Path | None:
    """The licence texts ``make agent`` collected beside ``binary`` (``<binary>.licences.txt``), if any."""
    licences = binary.with_name(binary.name + ".licences.txt")
    return licences if licences.is_file() else None


def fix_directory_modes(root: Path) -> None:
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
            f"Exec={COMMAND} -- %u",
            f"Icon={PACKAGE}",
            "Terminal=false",
            "Categories=Network;RemoteAccess;",
            "MimeType=x-scheme-handler/veo;",
            f"StartupWMClass={PACKAGE}",
            "",
        ]
    )


def service_unit() -> str:
    """``veo-agent.service``: the enrolled computer's link to its server (``veo-agent service``).

    A *system* unit, run as root: it must work with nobody signed in (a server in a closet, a
    kiosk), survive log-outs, and keep the device key (0600 in ``/var/lib/veo-agent``) out of the
    signed-in user's reach; it starts each session part *as* the desktop's user. Hardened as far
    as that allows, knowing the session part inherits the sandbox: no ``PrivateTmp`` (the X11
    socket is in ``/tmp``), no ``ProtectHome`` (the session part writes the user's history and
    log), no ``MemoryDenyWriteExecute`` (codecs). Capabilities: SETUID/SETGID to become the
    user, SYS_PTRACE and DAC_READ_SEARCH to read the desktop session's environment from
    ``/proc/<pid>/environ``, KILL to end a session part. Exit 0 (the enrolment ended, or
    stopped) and 2 (not enrolled, bad configuration) are not restarted; a crash is, after 10 s.
    Stopping the service ends a running session (the whole control group).
    """
    return "\n".join(
        [
            "[Unit]",
            "Description=veo remote support: this enrolled computer's link to its organization's server",
            "After=network-online.target",
            "Wants=network-online.target",
            f"ConditionPathExists={STATE_DIR}/device.json",
            "",
            "[Service]",
            "Type=simple",
            f"ExecStart={COMMAND} service",
            "Restart=on-failure",
            "RestartSec=10",
            "RestartPreventExitStatus=2",
            f"StateDirectory={PACKAGE}",
            "StateDirectoryMode=0755",
            "UMask=0022",
            "NoNewPrivileges=yes",
            "ProtectSystem=full",
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectKernelLogs=yes",
            "ProtectControlGroups=yes",
            "ProtectClock=yes",
            "ProtectHostname=yes",
            "RestrictSUIDSGID=yes",
            "RestrictRealtime=yes",
            "RestrictNamespaces=yes",
            "LockPersonality=yes",
            "SystemCallArchitectures=native",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
            "CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_SYS_PTRACE CAP_DAC_READ_SEARCH CAP_KILL",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


#: The collected licence texts, installed beside the copyright file.
LICENCES_NAME = "licences.txt"


def copyright_text(version: str, with_licences: bool = False) -> str:
    """The copyright file: what the program is, under which terms, where its source is."""
    texts = (
        f"\n {LICENCES_NAME}, beside this file, holds the licence texts of every part and names\n"
        " where each part's source is."
        if with_licences
        else ""
    )
    return f"""Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: veo
Comment: /usr/lib/veo-agent/veo-agent is a one-file build (PyInstaller) of the veo agent {version}:
 Python 3.11 with the Python packages and native libraries the agent uses, among them FFmpeg
 from PyAV with libx264 and libx265 (GPL-2.0-or-later), numpy with OpenBLAS, Tcl/Tk and OpenSSL.
 veo's own code is under the GNU AGPL version 3 or later; every other part keeps its own licence
 (GPL, LGPL, Apache-2.0 and permissive licences, all compatible with GPLv3). x264 and x265 are
 GPL-2.0-or-later, so the file as a whole is conveyed under the terms of the GNU GPL version 3 or
 later, with veo's part under the AGPL (section 13 of GPLv3 and AGPLv3 allows the combination).
 docs/agent-build.md in veo's source lists every part with its licence, and the build's
 manifest (veo-agent-linux-x86_64.json, beside the build on the server that made this package)
 lists the bundled parts with their versions and where their source is.{texts}
 Whoever hands out this package must also offer its corresponding source: veo's source at
 version {version} (packaging/ and constraints.txt in it pin every bundled part) and the
 sources of the bundled parts at those versions.

Files: *
Copyright: veo developers
License: AGPL-3.0-or-later
 The GNU Affero General Public License version 3 is at
 https://www.gnu.org/licenses/agpl-3.0.html
"""
