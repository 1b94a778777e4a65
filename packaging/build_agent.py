"""Build the one-file agent for Linux x86_64: ``dist/agent/veo-agent-linux-x86_64`` and its manifest.

``make agent`` runs this. Steps, each cached under ``$VEO_BUILD_CACHE`` (default
``${XDG_CACHE_HOME:-~/.cache}/veo-build``, outside the clone so that a fresh clone on the same
machine, as CI is, reuses it):

1. **The build venv** ``venv-<key>``: a venv of the same Python as the one running this script, with
   only veo's base dependencies, the ``agent`` extra and the ``build`` extra (PyInstaller), pinned by
   ``constraints.txt``. Nothing of the server or test extras: a missing runtime dependency shows here.
   veo itself is not installed there; PyInstaller takes it from ``src/`` (``packaging/agent/veo-agent.spec``).
   Keyed by the Python version, the dependency lists in ``pyproject.toml`` and ``constraints.txt``.
2. **The build** ``result-<key>``: PyInstaller (~1 min on 2 cores), then the file is started with
   ``VEO_AGENT_BUILD_CHECK=1`` under ``env -i`` (every native module imports, x264 encodes, the
   catalog is there), then the manifest is written. Keyed by the venv's key, every file that goes
   in (``src/veo`` except the server and the bench, ``packaging/``) and the installed versions of the
   Debian packages whose libraries the file bundles (:func:`system_packages`): a security update of
   OpenSSL, GLib or FreeType on the build machine makes the next ``make agent`` build again.
3. A hit copies the cached file and manifest to ``dist/agent/`` (seconds).

Usage::

    python3 packaging/build_agent.py [--out dist/agent] [--cache DIR] [--force] [--report PATH]
    <build venv>/bin/python packaging/build_agent.py inspect FILE   # JSON: archive, modules, glibc

The manifest (``veo-agent-linux-x86_64.json``, docs/agent-build.md) names the version, SHA-256,
size, the Python, the highest ``GLIBC_`` symbol version any ELF in the file needs (read with
``readelf --version-info`` from every binary extracted from the archive, and the bootloader), and
every bundled Python distribution with its licence.

Stdlib only for the driver part: it runs before any venv exists.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
SPEC = ROOT / "packaging" / "agent" / "veo-agent.spec"
#: Collects the licence texts into ``<artifact>.licences.txt`` and the manifest's ``sources``.
LICENCES = ROOT / "packaging" / "agent_licences.py"
NAME = "veo-agent"
PLATFORM = "linux-x86_64"
ARTIFACT = f"{NAME}-{PLATFORM}"
LICENCES_FILE = f"{ARTIFACT}.licences.txt"
#: Bumped when the way the venv or the build is made changes in a way the hashed files do not show.
RECIPE = "1"
#: Cached results kept besides the newest (older ones are removed).
KEEP_RESULTS = 3
#: Source folders of veo that never go into the agent (the spec excludes them too).
NOT_AGENT = ("server", "bench")
#: The Python distributions PyInstaller's hooks need at build time only: never bundled.
BUILD_ONLY = {"pyinstaller", "pyinstaller-hooks-contrib", "altgraph", "pip", "setuptools", "packaging"}


class BuildError(Exception):
    """A step failed; the message is the sentence to print."""


def say(message: str) -> None:
    print(f"[agent build] {message}", flush=True)


# ---------------------------------------------------------------- keys


def base_python() -> Path:
    """The interpreter the venvs are made from: this one, or the one a venv running us was made from."""
    base = Path(getattr(sys, "_base_executable", sys.executable))
    return base if base.exists() else Path(sys.executable)


def python_version(python: Path) -> str:
    out = subprocess.run(
        [str(python), "-c", "import sys, sysconfig; print(sys.version.split()[0], sysconfig.get_platform())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def requirements(pyproject: dict[str, object]) -> list[str]:
    """Base dependencies + the agent, wayland (PyGObject: GStreamer's PipeWire capture) and build
    extras, as written in pyproject.toml. PyGObject is built from source against the system's
    libgirepository (``make system-packages``); pip's wheel cache keeps that to one build."""
    project = pyproject["project"]
    assert isinstance(project, dict)
    extras = project["optional-dependencies"]
    return [*project["dependencies"], *extras["agent"], *extras["wayland"], *extras["build"]]


def venv_key(python: Path) -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    digest = hashlib.sha256()
    digest.update(f"recipe {RECIPE}\n{python_version(python)}\n".encode())
    digest.update("\n".join(requirements(pyproject)).encode())
    digest.update((ROOT / "constraints.txt").read_bytes())
    return digest.hexdigest()[:16]


def source_files() -> list[Path]:
    """Every file that goes into the build: agent-side sources, catalogs, the packaging folder."""
    files = [
        path
        for path in (SRC / "veo").rglob("*")
        if path.is_file()
        and path.relative_to(SRC / "veo").parts[0] not in NOT_AGENT
        and "__pycache__" not in path.parts
    ]
    files += [p for p in (ROOT / "packaging").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(files)


#: The Makefile's AGENT_BUILD_PACKAGES: whose versions the key names before any build's manifest
#: lists the Debian packages the file actually bundles (and always, besides that list).
FIRST_BUILD_PACKAGES = (
    "python3-tk", "tk8.6", "pipewire", "gstreamer1.0-pipewire", "gstreamer1.0-plugins-base",
    "gir1.2-gstreamer-1.0", "python3-gi", "libgirepository1.0-dev", "libcairo2-dev", "pkg-config",
    "binutils",
)  # fmt: skip


def bundled_debian_packages(cache: Path) -> list[str]:
    """The Debian packages the newest cached build took libraries from (its manifest's ``native``
    entries ``from == "debian"``), with :data:`FIRST_BUILD_PACKAGES`; sorted."""
    packages = set(FIRST_BUILD_PACKAGES)
    manifests = sorted(
        cache.glob(f"result-*/{ARTIFACT}.json"), key=lambda p: p.parent.stat().st_mtime, reverse=True
    )
    for manifest in manifests[:1]:
        try:
            native = json.loads(manifest.read_text()).get("native", [])
        except (OSError, ValueError, AttributeError):
            continue
        for entry in native if isinstance(native, list) else []:
            if isinstance(entry, dict) and entry.get("from") == "debian" and entry.get("package"):
                packages.add(str(entry["package"]))
    return sorted(packages)


def system_packages(cache: Path) -> str:
    """``<package> <version>`` lines of the installed :func:`bundled_debian_packages`
    (``dpkg-query -W``; a package not installed is simply absent). Empty off Debian."""
    if shutil.which("dpkg-query") is None:
        return ""
    found = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *bundled_debian_packages(cache)],
        capture_output=True,
        text=True,
        check=False,
    )
    return "\n".join(sorted(line for line in found.stdout.splitlines() if line.strip()))


def result_key(v_key: str, system: str = "") -> str:
    """The venv's key, every source file, and ``system`` (:func:`system_packages`)."""
    digest = hashlib.sha256(f"venv {v_key}\n".encode())
    for path in source_files():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(b"system packages\0" + system.encode())
    return digest.hexdigest()[:16]


def rekey(cache: Path, result: Path, v_key: str) -> Path:
    """After a build, the key with the packages this build's manifest lists: a first build (keyed
    by :data:`FIRST_BUILD_PACKAGES` only) is found again by the next run instead of built twice."""
    key = result_key(v_key, system_packages(cache))
    target = cache / f"result-{key}"
    if target == result:
        return result
    manifest_path = result / f"{ARTIFACT}.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["cache_key"] = key
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    if target.exists():
        shutil.rmtree(target)
    result.rename(target)
    return target


def cache_dir(option: str | None) -> Path:
    if option:
        return Path(option).expanduser()
    if os.environ.get("VEO_BUILD_CACHE"):
        return Path(os.environ["VEO_BUILD_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "veo-build"


# ---------------------------------------------------------------- steps


def run_logged(
    command: list[str], log: Path, env: dict[str, str] | None = None, phases: bool = False
) -> None:
    """Run ``command`` with its output in ``log``; with ``phases``, echo PyInstaller's phase lines."""
    start = time.monotonic()
    marks = re.compile(
        r"INFO: (Analyzing [^ ]*entry|Looking for dynamic|Building (PYZ|PKG|EXE) \(|Building EXE from"
        r"|Performing binary|Build complete)"
    )
    with log.open("w") as out:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
        )
        assert process.stdout is not None
        last = start
        for line in process.stdout:
            out.write(line)
            now = time.monotonic()
            if phases and marks.search(line):
                say(f"  {now - start:5.0f} s  {line.split('INFO: ', 1)[1].strip()[:100]}")
                last = now
            elif now - last > 15:
                say(f"  {now - start:5.0f} s  still working…")
                last = now
        code = process.wait()
    if code != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-25:])
        raise BuildError(
            f"{command[0]} {command[1] if len(command) > 1 else ''} failed ({code}); log: {log}\n{tail}"
        )


def ensure_venv(cache: Path, python: Path, key: str) -> Path:
    venv = cache / f"venv-{key}"
    done = venv / ".veo-build-complete"
    if done.exists():
        say(f"build venv: cached ({venv})")
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    say(f"build venv: creating {venv} (Python {python_version(python)})")
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    say("build venv: installing veo's base + agent + wayland + build dependencies (constraints.txt)")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    run_logged(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"),
         *requirements(pyproject)],
        venv / "pip-install.log",
        env=env,
    )  # fmt: skip
    done.write_text(json.dumps({"python": python_version(python), "created": now_iso()}))
    return venv


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build(cache: Path, venv: Path, key: str) -> Path:
    """PyInstaller into a scratch folder, checked, manifest written; moved to ``result-<key>``."""
    result = cache / f"result-{key}"
    scratch = Path(tempfile.mkdtemp(prefix=f"build-{key}-", dir=cache))
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        env |= {
            "VEO_BUILD_SRC": str(SRC),
            "VEO_BUILD_STRIP": str(scratch / "stripped"),
            "VEO_BUILD_BINARIES": str(scratch / "binaries.json"),
        }
        say("PyInstaller: analysing, collecting, stripping and packing (about a minute)")
        run_logged(
            [str(venv / "bin" / "python"), "-m", "PyInstaller", "--noconfirm", "--log-level", "INFO",
             "--distpath", str(scratch / "dist"), "--workpath", str(scratch / "work"), str(SPEC)],
            scratch / "pyinstaller.log",
            env=env,
            phases=True,
        )  # fmt: skip
        built = scratch / "dist" / ARTIFACT
        check(built)
        say("inspecting the archive (contents, licences, glibc)")
        inspected = json.loads(
            subprocess.run(
                [
                    str(venv / "bin" / "python"),
                    str(Path(__file__).resolve()),
                    "inspect",
                    str(built),
                    str(scratch / "binaries.json"),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        say("collecting the licence texts and where each part's source is")
        (scratch / "inspect.json").write_text(json.dumps(inspected))
        licences = json.loads(
            subprocess.run(
                [
                    str(venv / "bin" / "python"),
                    str(LICENCES),
                    str(scratch / "inspect.json"),
                    str(scratch / LICENCES_FILE),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        manifest = {
            "name": NAME,
            "platform": PLATFORM,
            "version": veo_version(),
            "sha256": sha256(built),
            "size": built.stat().st_size,
            "built_at": now_iso(),
            "python": inspected["python"],
            "glibc": inspected["glibc"],
            "glibc_needed_by": inspected["glibc_needed_by"],
            "contents": inspected["contents"],
            "native": inspected["native"],
            "licences": licences["licences"],
            "sources": licences["sources"],
            "cache_key": key,
        }
        out = scratch / "result"
        out.mkdir()
        shutil.move(built, out / ARTIFACT)
        shutil.move(scratch / LICENCES_FILE, out / LICENCES_FILE)
        (out / f"{ARTIFACT}.json").write_text(json.dumps(manifest, indent=2) + "\n")
        shutil.copyfile(scratch / "pyinstaller.log", out / "pyinstaller.log")
        (out / "inspect.json").write_text(json.dumps(inspected, indent=1) + "\n")
        if result.exists():
            shutil.rmtree(result)
        out.rename(result)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    os.utime(venv)
    prune(cache, result, venv)
    return result


def check(built: Path) -> None:
    """The file starts, every native module loads, x264 encodes, the catalog is there."""
    with tempfile.TemporaryDirectory(prefix="veo-build-check-") as home:
        try:
            proc = subprocess.run(
                ["env", "-i", "PATH=/usr/bin:/bin", f"HOME={home}", "VEO_AGENT_BUILD_CHECK=1", str(built)],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BuildError("the built file's check did not finish within 120 s") from None
    if proc.returncode != 0 or "build check ok" not in proc.stdout:
        raise BuildError(f"the built file failed its check ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    say(proc.stdout.strip())


def veo_version() -> str:
    text = (SRC / "veo" / "__init__.py").read_text()
    found = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.M)
    if not found:
        raise BuildError("src/veo/__init__.py has no __version__")
    return found.group(1)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prune(cache: Path, keep: Path, venv: Path) -> None:
    """Keep the newest :data:`KEEP_RESULTS` results and the newest two venvs (this one among them)."""
    for pattern, kept, count in (("result-*", keep, KEEP_RESULTS), ("venv-*", venv, 2)):
        found = sorted(cache.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in [r for r in found if r != kept][count - 1 :]:
            shutil.rmtree(old, ignore_errors=True)


def publish(result: Path, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ARTIFACT
    (out_dir / LICENCES_FILE).unlink(missing_ok=True)  # an older build's texts never sit beside a newer one
    for name in (ARTIFACT, f"{ARTIFACT}.json", LICENCES_FILE):
        if name == LICENCES_FILE and not (result / name).exists():  # a build from before the licences
            continue
        tmp = out_dir / f".{name}.tmp"
        shutil.copyfile(result / name, tmp)
        tmp.chmod(0o755 if name == ARTIFACT else 0o644)
        tmp.replace(out_dir / name)
    os.utime(result)  # the newest used result survives pruning
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build_agent.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "agent", help="where the file goes")
    parser.add_argument("--cache", help="cache folder (default $VEO_BUILD_CACHE or ~/.cache/veo-build)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the cache has this build")
    parser.add_argument("--report", type=Path, help="write {artifact, manifest, venv_python} as JSON here")
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["inspect"]:
        print(json.dumps(inspect(Path(argv[1]), Path(argv[2]) if len(argv) > 2 else None)))
        return 0
    args = parser.parse_args(argv)
    started = time.monotonic()
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        print("build_agent.py: the one-file agent is built on Linux x86_64 only", file=sys.stderr)
        return 2
    try:
        for tool in ("strip", "readelf"):
            if shutil.which(tool) is None:
                raise BuildError(f"{tool} is missing: install binutils (apt-get install binutils)")
        cache = cache_dir(args.cache)
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BuildError(
                f"the build cache {cache} cannot be used ({exc.strerror}): set VEO_BUILD_CACHE"
            ) from None
        python = base_python()
        v_key = venv_key(python)
        r_key = result_key(v_key, system_packages(cache))
        result = cache / f"result-{r_key}"
        if not args.force and (result / f"{ARTIFACT}.json").exists() and (result / ARTIFACT).exists():
            say(f"cached build {r_key} ({result})")
        else:
            lock = _Lock(cache / "build.lock")
            with lock:
                if args.force or not (result / f"{ARTIFACT}.json").exists():
                    venv = ensure_venv(cache, python, v_key)
                    result = rekey(cache, build(cache, venv, r_key), v_key)
        target = publish(result, args.out)
        manifest = json.loads((args.out / f"{ARTIFACT}.json").read_text())
        say(
            f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: "
            f"{manifest['size'] / 1e6:.1f} MB, glibc >= {manifest['glibc']}, "
            f"veo {manifest['version']} ({time.monotonic() - started:.1f} s)"
        )
        if args.report:
            ensure_venv(cache, python, v_key)  # the tests read the archive with its PyInstaller
            args.report.write_text(
                json.dumps(
                    {
                        "artifact": str(target),
                        "manifest": str(args.out / f"{ARTIFACT}.json"),
                        "venv_python": str(cache / f"venv-{v_key}" / "bin" / "python"),
                    }
                )
            )
        return 0
    except BuildError as exc:
        print(f"build_agent.py: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or "").strip().splitlines()[-3:] if isinstance(exc.stderr, str) else []
        print(f"build_agent.py: {' '.join(map(str, exc.cmd[:3]))} failed ({exc.returncode})", file=sys.stderr)
        print("\n".join(detail), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"build_agent.py: {exc}", file=sys.stderr)
        return 1


class _Lock:
    """One build at a time per cache (two CI jobs on the same machine wait for each other)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.path.open("w")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("another build holds the cache: waiting for it")
            fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


# ---------------------------------------------------------------- inspect (runs in the build venv)


def inspect(path: Path, binaries: Path | None = None) -> dict[str, object]:
    """What the built file holds: archive entries, Python modules, distributions, glibc floor, and
    (with the spec's ``binaries`` list) where each native library came from."""
    from importlib import metadata

    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(path))
    entries: dict[str, dict[str, object]] = {}
    modules: list[str] = []
    for name, (_offset, length, ulength, _flag, typecode) in archive.toc.items():
        entries[name] = {"type": typecode, "size": length, "usize": ulength}
        if typecode == "z":
            modules += list(archive.open_embedded_archive(name).toc.keys())
    top_level = (
        {m.split(".")[0] for m in modules}
        | {Path(n).parts[0].split(".")[0] for n in entries if "/" in n}
        | {n.split(".")[0] for n in entries}
    )
    contents = [{"name": "veo", "version": veo_version(), "license": "AGPL-3.0-or-later"}]
    for dist in sorted(metadata.distributions(), key=lambda d: d.metadata["Name"].lower()):
        name = dist.metadata["Name"]
        if name.lower() in BUILD_ONLY:
            continue
        provided = _top_level(dist)
        if provided & top_level:
            contents.append({"name": name, "version": dist.version, "license": _licence(dist)})
    glibc, needed_by = _glibc_floor(path, archive)
    native = _native_origins(json.loads(binaries.read_text())) if binaries and binaries.exists() else []
    return {
        "native": native,
        "python": ".".join(map(str, sys.version_info[:3])),
        "glibc": glibc,
        "glibc_needed_by": needed_by,
        "contents": contents,
        "entries": entries,
        "modules": sorted(modules),
    }


def _native_origins(binaries: list[list[str]]) -> list[dict[str, str]]:
    """Each bundled library's origin: ``{"file", "from": "wheel"|"python"|"debian"|"unknown", …}``.

    A wheel's file names its distribution and version; the interpreter's its version; a file of
    the build machine's system its Debian package, version and source package (``dpkg -S``), which
    is what the corresponding-source offer has to name (docs/agent-build.md).
    """
    from importlib import metadata

    owners: dict[str, tuple[str, str]] = {}
    for dist in metadata.distributions():
        for file in dist.files or []:
            owners[str(Path(str(dist.locate_file(file))).resolve())] = (dist.metadata["Name"], dist.version)
    interpreter = Path(sys.base_prefix).resolve()
    origins = []
    for dest, src in sorted(binaries):
        if src in owners:
            name, version = owners[src]
            origins.append({"file": dest, "from": "wheel", "package": name, "version": version})
        elif Path(src).is_relative_to(interpreter):
            origins.append(
                {"file": dest, "from": "python", "package": "CPython", "version": sys.version.split()[0]}
            )
        else:
            origins.append({"file": dest, **_debian_package(src)})
    return origins


def _debian_package(src: str) -> dict[str, str]:
    if shutil.which("dpkg-query") is None:
        return {"from": "unknown", "path": src}
    candidates = [src, src.removeprefix("/usr")] if src.startswith("/usr/") else [src, "/usr" + src]
    for candidate in candidates:
        found = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True, check=False)
        if found.returncode == 0:
            package = found.stdout.split(":", 1)[0].strip()
            info = subprocess.run(
                ["dpkg-query", "-W", "-f", "${Version}\t${source:Package}\t${source:Version}", package],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.split("\t")
            if len(info) == 3:
                return {
                    "from": "debian",
                    "package": package,
                    "version": info[0],
                    "source": info[1],
                    "source_version": info[2],
                }
    return {"from": "unknown", "path": src}


def _top_level(dist: object) -> set[str]:
    from importlib import metadata

    assert isinstance(dist, metadata.Distribution)
    names = set()
    text = dist.read_text("top_level.txt")
    if text:
        names |= {line.strip() for line in text.splitlines() if line.strip()}
    for file in dist.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__"):
            continue
        names.add(first.split(".")[0] if first.endswith((".py", ".so")) else first)
    return names


def _licence(dist: object) -> str:
    from importlib import metadata

    assert isinstance(dist, metadata.Distribution)
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return str(expression)
    classifiers = [
        c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")
    ]
    if classifiers:
        return "; ".join(classifiers)
    licence = (meta.get("License") or "").strip()
    if licence and "\n" not in licence and len(licence) < 80:
        return licence
    return "see its licence file" if licence else "UNKNOWN"


def _glibc_floor(path: Path, archive: object) -> tuple[str, list[str]]:
    """The highest GLIBC_x.y any ELF in the file needs: ``readelf --version-info`` on each one."""
    found: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        candidates = [("(bootloader)", path)]
        for name, entry in archive.toc.items():  # type: ignore[attr-defined]
            if entry[-1] not in ("b", "x", "d"):
                continue
            data = archive.extract(name)  # type: ignore[attr-defined]
            if not data or not data.startswith(b"\x7fELF"):
                continue
            target = Path(tmp) / name.replace("/", "__")
            target.write_bytes(data)
            candidates.append((name, target))
        for name, file in candidates:
            out = subprocess.run(
                ["readelf", "--version-info", "--wide", str(file)],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            for version in set(re.findall(r"Name: GLIBC_(\d+(?:\.\d+)+)", out)):
                found.setdefault(version, []).append(name)
    if not found:
        return "unknown", []
    top = max(found, key=lambda v: tuple(int(x) for x in v.split(".")))
    return top, sorted(found[top])


if __name__ == "__main__":
    sys.exit(main())
