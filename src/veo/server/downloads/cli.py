"""``veo admin agent``: put in place what ``/download`` hands out.

``add PATH`` copies a build and its manifest (``PATH.json``, written by ``make agent``) into
``<VEO_DATA_DIR>/agents/`` after checking them (:func:`store.add`); ``list`` shows what is in place
and what is wrong with the rest; ``remove PLATFORM`` takes one out of service; ``package-deb``
(``package-rpm``) wraps the Linux build in place into a ``.deb`` (a ``.rpm``) for the computers
an IT department manages, configured for the servers it names (its ``veo:`` link handler accepts
no other), and puts it beside the build. The server reads the folder at each request: no restart needed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from veo.config import Settings
from veo.i18n import N_
from veo.protocol.agent_config import InstalledConfig
from veo.server.cli_common import fail
from veo.server.downloads import links, store
from veo.server.lang import _
from veo.server.web import wording

#: ``deb.build_deb`` and ``rpm.build_rpm``: ``(binary, servers, organization, version, out_dir)``
#: -> the package
BuildPackage = Callable[[Path, list[str], str, str, Path], Path]
#: What package-deb and package-rpm say when they cannot make their package.
_CANNOT = {
    "deb": N_("This installation of veo cannot make .deb packages."),
    "rpm": N_("This installation of veo cannot make .rpm packages."),
}
_NOT_MADE = {
    "deb": N_("The .deb could not be made: %(error)s"),
    "rpm": N_("The .rpm could not be made: %(error)s"),
}
#: Exit status of a command that was called right but could not do its work.
FAILED = 1


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = sub.add_parser(
        "agent",
        help=_(
            "put in place the veo app that /download hands out (add, list, remove, package-deb, package-rpm)"
        ),
        description=_(
            "The builds that /download hands out, kept in the data directory's agents folder. "
            "make agent builds the Linux agent and adds it."
        ),
    )
    actions = agent.add_subparsers(dest="agent_action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        help=_("check a build and its manifest (PATH.json) and put them in place"),
        description=_(
            "Copy a build and the manifest beside it (PATH.json, written by make agent) into the "
            "agents folder, after checking its size and SHA-256. Replaces the build of the same platform."
        ),
    )
    add.add_argument("path", type=Path, help=_("the build, e.g. dist/agent/veo-agent-linux-x86_64"))
    actions.add_parser("list", help=_("show the builds in place"))
    remove = actions.add_parser("remove", help=_("take a platform's build out of /download"))
    remove.add_argument("platform", choices=sorted(store.PLATFORMS))
    deb = actions.add_parser(
        "package-deb",
        help=_("make a .deb of the Linux build in place, for computers an IT department manages"),
        description=_(
            "Wrap the Linux build in place into a .deb package that installs veo, a desktop "
            "launcher and the veo: link handler. The handler accepts links only for the servers "
            "named here (default: VEO_PUBLIC_URL)."
        ),
    )
    deb.add_argument(
        "--server",
        action="append",
        metavar="URL",
        help=_("a server the package may connect to (repeat for several; default: VEO_PUBLIC_URL)"),
    )
    deb.add_argument("--organization", help=_("the organization's name (default: VEO_ORGANIZATION)"))
    rpm = actions.add_parser(
        "package-rpm",
        help=_("make a .rpm of the Linux build in place, for computers an IT department manages"),
        description=_(
            "Wrap the Linux build in place into a .rpm package (for systems with glibc 2.35 or newer: "
            "Fedora, RHEL 10, openSUSE Tumbleweed) that installs "
            "veo, a desktop launcher and the veo: link handler. The handler accepts links only for the "
            "servers named here (default: VEO_PUBLIC_URL)."
        ),
    )
    rpm.add_argument(
        "--server",
        action="append",
        metavar="URL",
        help=_("a server the package may connect to (repeat for several; default: VEO_PUBLIC_URL)"),
    )
    rpm.add_argument("--organization", help=_("the organization's name (default: VEO_ORGANIZATION)"))


def main(prog: str, settings: Settings, args: argparse.Namespace) -> int:
    folder = links.folder(settings)
    action = args.agent_action
    if action == "add":
        return _add(prog, settings, folder, args.path)
    if action == "list":
        return _list(folder)
    if action == "remove":
        return _remove(folder, args.platform)
    return _package(prog, settings, folder, args, "rpm" if action == "package-rpm" else "deb")


def _add(prog: str, settings: Settings, folder: Path, path: Path) -> int:
    try:
        build = store.add(folder, path)
    except store.StoreError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return FAILED
    print(
        _("Put in place: %(platform)s %(version)s (%(size)s) in %(folder)s.")
        % {
            "platform": build.manifest.platform,
            "version": build.manifest.version,
            "size": wording.file_size(build.manifest.size),
            "folder": folder,
        }
    )
    print(_("Users get it from %(url)s.") % {"url": settings.public_url + links.PAGE})
    return 0


def _list(folder: Path) -> int:
    listing = store.list_builds(folder)
    for problem in listing.problems:
        print(problem, file=sys.stderr)
    if not listing.builds:
        print(_("No build is in place in %(folder)s.") % {"folder": folder})
        print(_("make agent builds the Linux agent and adds it; or: veo admin agent add PATH"))
        return 0
    for platform, build in sorted(listing.builds.items()):
        m = build.manifest
        facts = [m.version, wording.file_size(m.size)]
        if m.built_at:
            facts.append(_("built %(when)s") % {"when": m.built_at})
        if m.glibc:
            facts.append(_("needs glibc %(version)s or newer") % {"version": m.glibc})
        print(f"{platform}: {', '.join(facts)}")
        print(f"  {build.path}")
    return 0


def _remove(folder: Path, platform: str) -> int:
    build = store.remove(folder, platform)
    if build is None:
        print(_("No %(platform)s build was in place.") % {"platform": platform}, file=sys.stderr)
        return FAILED
    print(
        _("Removed %(platform)s %(version)s; /download no longer offers it.")
        % {"platform": platform, "version": build.manifest.version}
    )
    return 0


def _package(prog: str, settings: Settings, folder: Path, args: argparse.Namespace, kind: str) -> int:
    """package-deb and package-rpm (``kind``): the Linux build in place, for the servers named."""
    servers = list(args.server or [settings.public_url])
    organization = settings.organization if args.organization is None else args.organization
    try:
        InstalledConfig(servers=servers, organization=organization)
    except ValidationError as exc:
        first = exc.errors()[0]
        problem = str(first["msg"]).removeprefix("Value error, ")
        fail(prog, _("invalid --server or --organization: %(problem)s") % {"problem": problem})
    linux = store.find(folder, links.LINUX)
    if linux is None:
        print(
            f"{prog}: "
            + _("No Linux build is in place to package: run make agent, or veo admin agent add PATH, first."),
            file=sys.stderr,
        )
        return FAILED
    try:  # the build helper's module; imported here so that the rest works without it
        module = importlib.import_module(f"veo.server.downloads.{kind}")
        build_package: BuildPackage = getattr(module, f"build_{kind}")
    except (ImportError, AttributeError):
        print(f"{prog}: " + _(_CANNOT[kind]), file=sys.stderr)
        return FAILED
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".package-{kind}-", dir=folder))
    try:
        try:
            deb = build_package(linux.path, servers, organization, linux.manifest.version, work)
        except (OSError, ValueError, RuntimeError) as exc:
            print(f"{prog}: " + _(_NOT_MADE[kind]) % {"error": exc}, file=sys.stderr)
            return FAILED
        _write_manifest(deb, linux.manifest.version, servers, organization, linux)
        try:
            build = store.add(folder, deb)
        except store.StoreError as exc:
            print(f"{prog}: {exc}", file=sys.stderr)
            return FAILED
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        _("Put in place: %(file)s (%(size)s), for %(servers)s.")
        % {
            "file": build.path.name,
            "size": wording.file_size(build.manifest.size),
            "servers": ", ".join(servers),
        }
    )
    return 0


def _write_manifest(
    deb: Path, version: str, servers: list[str], organization: str, linux: store.Build | None = None
) -> None:
    with deb.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
    manifest = {
        "name": "veo-agent",
        "platform": "rpm-x86_64" if deb.suffix == ".rpm" else "deb-amd64",
        "version": version,
        "sha256": digest.hexdigest(),
        "size": deb.stat().st_size,
        "built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "servers": servers,
        "organization": organization,
    }
    # the program inside is the Linux build: its licence texts and sources are the package's too
    extra: dict[str, object] = {}
    if linux is not None and linux.manifest.licences is not None and linux.licences.is_file():
        shutil.copyfile(linux.licences, store.licences_path(deb))
        extra["licences"] = {**linux.manifest.licences.model_dump(), "file": store.licences_path(deb).name}
    if linux is not None and linux.manifest.sources:
        extra["sources"] = [source.model_dump() for source in linux.manifest.sources]
    store.manifest_path(deb).write_text(json.dumps(manifest | extra, indent=2) + "\n", encoding="utf-8")
