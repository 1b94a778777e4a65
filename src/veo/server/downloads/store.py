"""The operator's folder of agent builds: ``<VEO_DATA_DIR>/agents/``.

``make agent`` builds the one-file agent into ``dist/agent/`` with a manifest beside it
(``veo-agent-linux-x86_64`` + ``veo-agent-linux-x86_64.json``: platform, version, SHA-256, size,
what is inside); ``veo admin agent add`` copies it here, and ``veo admin agent package-deb``
puts a ``.deb`` beside it. ``/download`` serves what this folder holds, one build per platform.

The folder is the only state: no database row, so an operator may also look at it with ``ls``.
Every file enters through :func:`add`, which checks it before anyone can download it:

* the manifest parses and names a platform veo serves;
* the bytes are the ones the manifest describes (size and SHA-256, hashed while copying, so the
  copy itself is what was checked) and look like that platform's file (an ELF program, a Debian
  package);
* the file carries no configuration trailer yet: a copy downloaded from a server already names
  that server, and the trailer appended at each download would come after it, where the agent
  never looks. Such a file is refused with a sentence saying where the plain build is;
* the licence texts ``make agent`` collected beside the build (``<build>.licences.txt``, named with
  their SHA-256 in the manifest's ``licences``) come along and match; whoever serves the build
  hands them out with it (``/download/<platform>/licences``). A build from before veo collected
  them is still accepted: its licences page says what is missing.

Files are written under a temporary name in the same folder and renamed into place, so a download
never sees half a file and an interrupted ``add`` leaves the old build working. The platform never
leaves the listing while ``add`` replaces it: the new manifest is written first under a temporary
name; the old file keeps a second name (``.<name>.previous``, a hard link) while the new file is
renamed over it; then the new manifest is renamed over the old one, and only then is the link
removed. In between, the old manifest still describes a file in the folder (the link), and
:func:`list_builds` serves that pair (a reader that misses both reads the manifest again). A
``.deb``/``.rpm`` of another version has a name of its own: its pair is complete before the old
pair is removed, and while both are there the highest version is served (the other is reported as
a problem, as is a second manifest left by a crash). A download opens the file once, takes its
size from that descriptor and streams from it: a build replaced or removed meanwhile does not
change a download under way. (One case is not told apart: a replacement of exactly the same size,
listed in the instant between the file's and the manifest's renames, is served under the old
manifest's version; its bytes are whole either way.)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from veo.config import is_agent_version
from veo.protocol import agent_config
from veo.server.lang import _

log = logging.getLogger(__name__)

PlatformId = Literal["linux-x86_64", "deb-amd64", "rpm-x86_64"]
#: The folder's name under the data directory.
FOLDER = "agents"
#: A manifest is a few kilobytes (the bundled packages' names and licences); more is not one.
MAX_MANIFEST_BYTES = 1024 * 1024
#: The largest build accepted (the one-file agent is about 90 MB).
MAX_BUILD_BYTES = 1024 * 1024 * 1024
#: The collected licence texts beside a build: ``veo-agent-linux-x86_64.licences.txt`` (about 1 MB).
LICENCES_SUFFIX = ".licences.txt"
MAX_LICENCES_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Platform:
    """How one kind of build is stored and handed out."""

    id: PlatformId
    #: Whether each download gets the server's configuration appended (the one-file agent), or
    #: is served as stored (the ``.deb``: IT configured it when packaging).
    configured: bool
    media_type: str
    #: The first bytes every file of this kind starts with.
    magic: bytes

    def stored_name(self, version: str) -> str:
        if self.id == "deb-amd64":
            return f"veo-agent_{version}_amd64.deb"
        if self.id == "rpm-x86_64":
            return f"veo-agent-{version}-1.x86_64.rpm"
        return f"veo-agent-{self.id}"

    def download_name(self, version: str) -> str:
        """The name the browser saves: ``veo-agent`` (what the join page tells people to open)."""
        return "veo-agent" if self.configured else self.stored_name(version)


PLATFORMS: dict[str, Platform] = {
    "linux-x86_64": Platform("linux-x86_64", True, "application/octet-stream", b"\x7fELF"),
    "deb-amd64": Platform("deb-amd64", False, "application/vnd.debian.binary-package", b"!<arch>\n"),
    "rpm-x86_64": Platform("rpm-x86_64", False, "application/x-rpm", b"\xed\xab\xee\xdb"),
}


class StoreError(ValueError):
    """A build that cannot be added (or a folder that cannot be read), said as a sentence."""


#: A SHA-256 as hex, the way the manifest and ``_copy`` write it.
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Licences(BaseModel):
    """The manifest's ``licences``: the collected texts' file, and what had no text at build time."""

    model_config = ConfigDict(extra="allow", frozen=True)

    file: Annotated[str, Field(max_length=200)]
    sha256: Sha256
    size: Annotated[int, Field(ge=1, le=MAX_LICENCES_BYTES)]
    missing: list[str] = []


class Source(BaseModel):
    """One entry of the manifest's ``sources``: a bundled part and where its corresponding source is."""

    model_config = ConfigDict(extra="allow", frozen=True)

    component: str
    version: str = ""
    licence: str = ""
    #: An address (https://…) or a sentence naming one; "" for veo itself (the server's VEO_SOURCE_URL).
    source: str = ""
    #: A command that fetches it (``pip download …``, ``apt-get source …``), if any.
    command: str = ""
    #: For veo: the commit it was built from (``+changes``: with changes not committed).
    revision: str = ""
    files: list[str] = []


class Manifest(BaseModel):
    """What ``make agent`` (or ``package-deb``) writes beside a build; unknown keys are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: Annotated[str, Field(max_length=100)] = "veo-agent"
    platform: PlatformId
    version: Annotated[str, Field(min_length=1, max_length=40)]
    sha256: Sha256
    size: Annotated[int, Field(ge=1, le=MAX_BUILD_BYTES)]
    built_at: Annotated[str, Field(max_length=40)] = ""
    python: Annotated[str, Field(max_length=40)] = ""
    #: The highest GLIBC_ symbol version the build needs (the oldest Linux it runs on).
    glibc: Annotated[str, Field(max_length=20)] = ""
    #: The licence texts and where each part's source is (absent in builds made before veo 0.2.0's).
    licences: Licences | None = None
    sources: list[Source] = []

    @field_validator("version")
    @classmethod
    def _a_version(cls, value: str) -> str:
        # It reaches the stored file's name and the download's Content-Disposition: matched whole.
        if not is_agent_version(value):
            raise ValueError(
                _(
                    "not a version such as 0.2.0 (numbers separated by dots, then optionally letters, "
                    "digits, '.', '+' or '~')"
                )
            )
        return value


@dataclass(frozen=True)
class Build:
    """A build in place: its file and what its manifest says."""

    path: Path
    manifest: Manifest
    #: The file whose bytes this manifest describes, when it is not ``path``: the previous build's
    #: link (``.<name>.previous``) while :func:`add` replaces the file under the same name.
    previous: Path | None = None

    @property
    def file(self) -> Path:
        """What a download opens (and ``fstat``s): the bytes the manifest describes."""
        return self.previous if self.previous is not None else self.path

    @property
    def platform(self) -> Platform:
        return PLATFORMS[self.manifest.platform]

    @property
    def licences(self) -> Path:
        """Where the build's licence texts are kept (they may be absent: an older build)."""
        return licences_path(self.path)


@dataclass(frozen=True)
class Listing:
    """What the folder holds: the usable builds, and a sentence for each file that is not usable."""

    builds: dict[str, Build]
    problems: list[str]


def agents_dir(data_dir: Path) -> Path:
    return data_dir / FOLDER


def manifest_path(build: Path) -> Path:
    """``veo-agent-linux-x86_64`` -> ``veo-agent-linux-x86_64.json``."""
    return build.with_name(build.name + ".json")


def licences_path(build: Path) -> Path:
    """``veo-agent-linux-x86_64`` -> ``veo-agent-linux-x86_64.licences.txt``."""
    return build.with_name(build.name + LICENCES_SUFFIX)


def read_manifest(path: Path) -> Manifest:
    """The manifest at ``path``; a missing, unreadable or malformed one raises :class:`StoreError`."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise StoreError(
            _("There is no manifest %(path)s beside the build (make agent writes it).") % {"path": path}
        ) from None
    except OSError as exc:
        raise StoreError(_cannot_read(path, exc)) from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise StoreError(_("%(path)s is too large to be a manifest.") % {"path": path})
    try:
        return Manifest.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "JSON"
        raise StoreError(
            _("The manifest %(path)s is not valid (%(field)s: %(problem)s).")
            % {"path": path, "field": field, "problem": first["msg"]}
        ) from None


def list_builds(folder: Path) -> Listing:
    """The builds in place, by platform id. Cheap (no hashing): names, manifests and sizes.

    Two manifests of one platform (an ``add`` of another ``.deb`` version between its manifest and
    the old pair's removal, or a crash there): the highest version serves, the other is a problem.
    """
    found: dict[str, list[Build]] = {}
    problems: list[str] = []
    try:
        manifests = sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))
    except OSError as exc:
        return Listing({}, [_cannot_read(folder, exc)])
    for path in manifests:
        try:
            build = _pair(path)
        except StoreError as exc:
            problems.append(str(exc))
            continue
        found.setdefault(build.manifest.platform, []).append(build)
    builds: dict[str, Build] = {}
    for platform, candidates in found.items():
        candidates.sort(
            key=lambda b: (agent_config.version_key(b.manifest.version), b.path.name), reverse=True
        )
        builds[platform] = candidates[0]
        for other in candidates[1:]:
            problems.append(
                _(
                    "%(path)s is a second %(platform)s build (version %(version)s); version %(serving)s "
                    "is the one served. Add the build you want again with veo admin agent add: it "
                    "keeps only that one."
                )
                % {
                    "path": other.path,
                    "platform": platform,
                    "version": other.manifest.version,
                    "serving": candidates[0].manifest.version,
                }
            )
    return Listing(builds, problems)


def _pair(manifest_file: Path, attempts: int = 3) -> Build:
    """The build ``manifest_file`` describes, checked by size.

    While :func:`add` replaces a file under the same name, the new bytes are in place a moment
    before their manifest: the old manifest then describes the previous file, which ``add`` keeps
    as ``.<name>.previous`` (a hard link) until the new manifest is in place. A reader that finds
    neither reads the manifest again (``add`` removed the link only after the new manifest).
    """
    build = manifest_file.with_name(manifest_file.name.removesuffix(".json"))
    problem = ""
    for _attempt in range(attempts):
        manifest = read_manifest(manifest_file)
        try:
            size = build.stat().st_size
        except OSError:
            problem = _("The manifest %(path)s names no file beside it.") % {"path": manifest_file}
            continue
        if size == manifest.size:
            return Build(build, manifest)
        previous = previous_path(build)
        try:
            if previous.stat().st_size == manifest.size:
                return Build(build, manifest, previous)
        except OSError:
            pass
        problem = _("%(path)s has %(size)d bytes, its manifest says %(expected)d.") % {
            "path": build,
            "size": size,
            "expected": manifest.size,
        }
    raise StoreError(problem)


def previous_path(build: Path) -> Path:
    """``veo-agent-linux-x86_64`` -> ``.veo-agent-linux-x86_64.previous`` (hidden: never listed)."""
    return build.with_name(f".{build.name}.previous")


def find(folder: Path, platform: str) -> Build | None:
    return list_builds(folder).builds.get(platform)


def add(folder: Path, source: Path) -> Build:
    """Check ``source`` against ``source.json`` and put both in place; replaces that platform's build."""
    manifest = read_manifest(manifest_path(source))
    platform = PLATFORMS[manifest.platform]
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise StoreError(_cannot_read(source, exc)) from None
    if size != manifest.size:
        raise StoreError(
            _(
                "%(path)s has %(size)d bytes, but its manifest says %(expected)d: it is not the file "
                "the manifest describes."
            )
            % {"path": source, "size": size, "expected": manifest.size}
        )
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / platform.stored_name(manifest.version)
    temp = folder / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        digest = _copy(source, temp)
        if digest != manifest.sha256:
            raise StoreError(
                _(
                    "The SHA-256 of %(path)s does not match its manifest: the file was changed or "
                    "damaged after it was built."
                )
                % {"path": source}
            )
        _check_content(temp, platform, source)
        licences = _stage_licences(folder, source, manifest)  # refused before anything is replaced
        new_manifest: Path | None = None
        previous = previous_path(target)
        try:
            new_manifest = _write_temp(
                folder, manifest_path(target), manifest.model_dump_json(indent=2).encode() + b"\n"
            )
            # The old pair stays valid until the new one is in place: the old bytes keep a second
            # name while the new file takes the name, then the new manifest (already written) is
            # renamed over the old one. See _pair for what a reader sees in between.
            previous.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # no build yet (or no hard links: the window stays)
                os.link(target, previous)
            temp.replace(target)
            new_manifest.replace(manifest_path(target))
            if licences is not None:
                licences.replace(licences_path(target))
            else:  # the texts of the build this one replaces describe another file
                licences_path(target).unlink(missing_ok=True)
        finally:
            if new_manifest is not None:
                new_manifest.unlink(missing_ok=True)
            if licences is not None:
                licences.unlink(missing_ok=True)
        _sync_folder(folder)
        previous.unlink(missing_ok=True)
    finally:
        temp.unlink(missing_ok=True)
    _sync_folder(folder)
    # A .deb of another version is the same platform's previous build: only one stays in place.
    for other in folder.glob("*.json"):
        if other != manifest_path(target) and _platform_of(other) == manifest.platform:
            _remove_pair(other.with_name(other.name.removesuffix(".json")))
    log.info("agent build added: %s %s (%d bytes)", manifest.platform, manifest.version, size)
    return Build(target, manifest)


def _stage_licences(folder: Path, source: Path, manifest: Manifest) -> Path | None:
    """A checked copy (a temporary file in ``folder``) of the licence texts the manifest names beside
    ``source``; ``None`` for a manifest without them (an older build)."""
    if manifest.licences is None:
        return None
    given = source.with_name(Path(manifest.licences.file).name)
    temp = folder / f".{given.name}.{secrets.token_hex(4)}.tmp"
    try:
        if not given.is_file():
            raise StoreError(
                _(
                    "The manifest names the licence texts %(path)s, which are not beside the build: "
                    "copy them too (make agent writes them into dist/agent/)."
                )
                % {"path": given}
            )
        if given.stat().st_size != manifest.licences.size or _copy(given, temp) != manifest.licences.sha256:
            raise StoreError(
                _("%(path)s are not the licence texts the manifest describes (size or SHA-256 differs).")
                % {"path": given}
            )
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def remove(folder: Path, platform: str) -> Build | None:
    """Take a platform's build out of service (manifest first: it is gone from ``/download`` at once)."""
    build = find(folder, platform)
    if build is None:
        return None
    _remove_pair(build.path)
    log.info("agent build removed: %s %s", platform, build.manifest.version)
    return build


def _copy(source: Path, temp: Path) -> str:
    """Copy ``source`` to ``temp`` (flushed to disk), hashing the bytes as they are written."""
    digest = hashlib.sha256()
    try:
        with source.open("rb") as src, temp.open("xb") as dst:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
    except OSError as exc:
        raise StoreError(
            _("Cannot copy %(path)s into %(folder)s: %(error)s")
            % {"path": source, "folder": temp.parent, "error": exc.strerror or exc}
        ) from None
    temp.chmod(0o644)
    return digest.hexdigest()


def _check_content(path: Path, platform: Platform, source: Path) -> None:
    """The right kind of file, and no configuration trailer yet (see the module's docstring)."""
    with path.open("rb") as handle:
        head = handle.read(len(platform.magic))
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - agent_config.SEARCH_BYTES))
        tail = handle.read()
    if head != platform.magic:
        raise StoreError(
            _("%(path)s is not a %(platform)s build (its first bytes say otherwise).")
            % {"path": source, "platform": platform.id}
        )
    try:
        embedded = agent_config.unseal_tail(tail)
    except agent_config.AgentConfigError:
        embedded = None
        carries = True
    else:
        carries = embedded is not None
    if carries:
        server = f" ({embedded.server})" if embedded is not None else ""
        raise StoreError(
            _(
                "%(path)s already carries a server's configuration%(server)s: it is a downloaded "
                "copy, not a build. Add the file that make agent wrote into dist/agent/."
            )
            % {"path": source, "server": server}
        )


def _cannot_read(path: Path, exc: OSError) -> str:
    return _("Cannot read %(path)s: %(error)s") % {"path": path, "error": exc.strerror or exc}


def _write_temp(folder: Path, path: Path, data: bytes) -> Path:
    """``data`` on disk under a temporary name beside ``path``, for the caller to rename into place."""
    temp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        with temp.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temp.chmod(0o644)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _sync_folder(folder: Path) -> None:
    """The renames themselves on disk (a crash right after ``add`` keeps the new build)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a directory; the data itself is synced
        pass
    finally:
        os.close(fd)


def _platform_of(manifest: Path) -> str | None:
    try:
        return read_manifest(manifest).platform
    except StoreError:
        return None


def _remove_pair(build: Path) -> None:
    manifest_path(build).unlink(missing_ok=True)
    build.unlink(missing_ok=True)
    licences_path(build).unlink(missing_ok=True)
    previous_path(build).unlink(missing_ok=True)
