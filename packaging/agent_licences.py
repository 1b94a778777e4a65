"""The licence texts of everything in the one-file agent, and where each part's source is.

Run by ``build_agent.py`` in the build venv, after ``inspect`` (whose JSON it reads)::

    <build venv>/bin/python packaging/agent_licences.py INSPECT_JSON OUT_TXT

It writes ``OUT_TXT`` (``veo-agent-linux-x86_64.licences.txt``: UTF-8, a table of contents first,
then one section per component with its licence files) and prints JSON for the manifest:
``{"licences": {"file", "sha256", "size", "missing": [...]}, "sources": [{"component", "version",
"licence", "source", "command"?, "files"?}]}``. Texts come from where the parts came from:

* each bundled Python distribution: the licence files its ``.dist-info`` lists
  (``licenses/``, ``LICENSE*``, ``COPYING*``, ``NOTICE*``, ``AUTHORS*``);
* veo: ``LICENSE`` and the AGPL's text (``packaging/licences/AGPL-3.0.txt``);
* CPython: the interpreter's ``LICENSE.txt``; PyInstaller's bootloader: PyInstaller's ``COPYING.txt``;
* libraries a wheel bundled (``av.libs/``, ``numpy.libs/``, …): numpy's own LICENSE names its
  libraries; PyAV's wheel carries no text for FFmpeg and its codecs, so the build machine's
  Debian copyright file of the same upstream library is included, marked as such (its notices;
  the version inside the agent is pyav-ffmpeg's), and a library with none is listed in ``missing``;
* libraries PyInstaller copied from the build machine: ``/usr/share/doc/<package>/copyright``;
* the full texts of the GPL, LGPL and Apache licences those files refer to
  (``/usr/share/common-licenses``), since the user's computer may not have them.

Stdlib only. docs/agent-build.md, "What the file contains, and under which licences".
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMON_LICENCES = Path("/usr/share/common-licenses")
#: Full licence texts the notices refer to (SPDX-ish name -> file in /usr/share/common-licenses).
FULL_TEXTS = {
    "GPL-2.0": "GPL-2",
    "GPL-3.0": "GPL-3",
    "LGPL-2.1": "LGPL-2.1",
    "LGPL-3.0": "LGPL-3",
    "Apache-2.0": "Apache-2.0",
}
#: The part of veo's terms every page and file states (docs/agent-build.md says the same).
TERMS = (
    "veo's own code is under the GNU Affero General Public License, version 3 or later\n"
    "(AGPL-3.0-or-later). Every other part keeps its own licence, listed below. x264 and x265\n"
    "(inside PyAV's FFmpeg) are under the GNU GPL version 2 or later, so the file as a whole is\n"
    "conveyed under the terms of the GNU GPL version 3 or later, which every other part's licence\n"
    "allows. Section 13 of GPLv3 and AGPLv3 lets the two be combined: veo's part stays under the\n"
    "AGPL, and the AGPL's section 13 (the source offered to users over a network) applies to the\n"
    "combination.\n"
)
#: Libraries in PyAV's wheel (``av.libs/<stem>-<hash>.so…``): upstream, licence, the Debian
#: package whose copyright file carries the same upstream's notices.
AV_LIBS: dict[str, tuple[str, str, str]] = {
    **{
        stem: (
            "FFmpeg",
            "LGPL-3.0-or-later as built (--enable-version3); GPL-3.0-or-later with x264/x265",
            "libavcodec59",
        )
        for stem in (
            "libavcodec",
            "libavformat",
            "libavutil",
            "libavfilter",
            "libavdevice",
            "libswscale",
            "libswresample",
        )
    },
    "libx264": ("x264", "GPL-2.0-or-later", "libx264-164"),
    "libx265": ("x265", "GPL-2.0-or-later", "libx265-199"),
    "libvpx": ("libvpx", "BSD-3-Clause (with Google's patent grant)", "libvpx7"),
    "libopus": ("Opus", "BSD-3-Clause", "libopus0"),
    "libSvtAv1Enc": ("SVT-AV1", "BSD-3-Clause-Clear (with the AOMedia patent licence)", "libsvtav1enc1"),
    "libdav1d": ("dav1d", "BSD-2-Clause", "libdav1d6"),
    "libwebp": ("libwebp", "BSD-3-Clause (with Google's patent grant)", "libwebp7"),
    "libwebpmux": ("libwebp", "BSD-3-Clause (with Google's patent grant)", "libwebpmux3"),
    "libsharpyuv": ("libwebp", "BSD-3-Clause (with Google's patent grant)", "libwebp7"),
    "libmp3lame": ("LAME", "LGPL-2.0-or-later", "libmp3lame0"),
    "libopencore-amrnb": ("opencore-amr", "Apache-2.0", "libopencore-amrnb0"),
    "libopencore-amrwb": ("opencore-amr", "Apache-2.0", "libopencore-amrwb0"),
    "libgnutls": ("GnuTLS", "LGPL-2.1-or-later", "libgnutls30"),
    "libnettle": ("Nettle", "LGPL-3.0-or-later OR GPL-2.0-or-later", "libnettle8"),
    "libhogweed": ("Nettle", "LGPL-3.0-or-later OR GPL-2.0-or-later", "libhogweed6"),
    "libgmp": ("GMP", "LGPL-3.0-or-later OR GPL-2.0-or-later", "libgmp10"),
    "libunistring": ("libunistring", "LGPL-3.0-or-later OR GPL-2.0-or-later", "libunistring2"),
    "libvpl": ("Intel VPL dispatcher", "MIT", "libvpl2"),
    "libasound": ("alsa-lib", "LGPL-2.1-or-later", "libasound2"),
    "libdrm": ("libdrm", "MIT", "libdrm2"),
    "libxcb": ("libxcb", "MIT", "libxcb1"),
    "libxcb-shape": ("libxcb", "MIT", "libxcb-shape0"),
    "libxcb-shm": ("libxcb", "MIT", "libxcb-shm0"),
    "libxcb-xfixes": ("libxcb", "MIT", "libxcb-xfixes0"),
    "libXau": ("libXau", "MIT", "libxau6"),
}
#: Libraries in numpy's wheel, whose notices numpy's own LICENSE.txt carries.
NUMPY_LIBS = {
    "libscipy_openblas": (
        "OpenBLAS (with LAPACK)",
        "BSD-3-Clause",
        "https://github.com/OpenMathLib/OpenBLAS",
    ),
    "libgfortran": (
        "GCC runtime (libgfortran)",
        "GPL-3.0-or-later WITH GCC-exception-3.1",
        "https://gcc.gnu.org/",
    ),
    "libquadmath": ("GCC runtime (libquadmath)", "LGPL-2.1-or-later", "https://gcc.gnu.org/"),
}
#: Distributions whose wheel (built from the sdist) carries no licence file: the Debian package of the
#: same upstream whose copyright file has its notices (python3-gi: PyGObject's, LGPL-2.1-or-later).
DIST_NOTICES = {"pygobject": "python3-gi", "pycairo": "python3-cairo"}
#: Libraries linked statically into a distribution's own extension modules (found by their version
#: string): their source is not in that distribution's sdist, so the manifest names it.
STATIC = {
    rb"OpenSSL (\d+\.\d+\.\d+)": (
        "OpenSSL",
        "Apache-2.0",
        "https://github.com/openssl/openssl/releases/tag/openssl-{v}",
        "libssl3",
    ),
    rb"libsrtp2 (\d+\.\d+\.\d+)": (
        "libsrtp",
        "BSD-3-Clause",
        "https://github.com/cisco/libsrtp/releases/tag/v{v}",
        "libsrtp2-1",
    ),
}
_LICENCE_NAME = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|AUTHORS|COPYRIGHT)", re.IGNORECASE)


def pypi(name: str, version: str) -> dict[str, str]:
    return {
        "source": f"https://pypi.org/project/{name}/{version}/#files",
        "command": f"pip download --no-deps --no-binary :all: {name}=={version}",
    }


def licence_files(dist: metadata.Distribution) -> list[tuple[str, str]]:
    """(name, text) of each licence file a distribution's metadata folder holds."""
    found = []
    for file in dist.files or []:
        parts = file.parts
        if not parts[0].endswith(".dist-info") or file.suffix in (".py", ".pyc", ".json"):
            continue
        if "licenses" in parts[1:-1] or (len(parts) == 2 and _LICENCE_NAME.match(parts[-1])):
            try:
                found.append(
                    ("/".join(parts[1:]), Path(str(dist.locate_file(file))).read_text(errors="replace"))
                )
            except OSError:
                continue
    return found


def stem(file: str) -> str:
    """``av.libs/libx264-d6533a8d.so.165`` -> ``libx264`` (auditwheel's hash and the version gone)."""
    name = Path(file).name.split(".so")[0]
    return re.sub(r"(-[0-9a-f]{8})+$", "", name)


def debian_copyright(package: str) -> str | None:
    if not package:
        return None
    path = Path("/usr/share/doc") / package / "copyright"
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def debian_version(package: str) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() if out.returncode == 0 else ""


def veo_revision() -> str:
    """The commit of veo's checkout, ``+changes`` when its agent-side files differ from it; "" outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--",
                "src/veo",
                "packaging",
                "pyproject.toml",
                "constraints.txt",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


class Collector:
    def __init__(self) -> None:
        self.sections: list[tuple[str, str]] = []  # (title, body)
        self.sources: list[dict[str, object]] = []
        self.missing: list[str] = []

    def section(self, title: str, body: str) -> None:
        self.sections.append((title, body))

    def render(self, header: str) -> str:
        # every one of them is some part's licence (GPLv3 is the whole's), and the notices refer to them
        for spdx, name in FULL_TEXTS.items():
            path = COMMON_LICENCES / name
            if path.exists():
                self.sections.append((f"Full text: {spdx}", path.read_text(errors="replace")))
            else:
                self.missing.append(f"the full text of {spdx} ({path} is not on the build machine)")
        lines = [header, "", TERMS, "Contents", ""]
        lines += [f"{n:3d}. {title}" for n, (title, _body) in enumerate(self.sections, 1)]
        if self.missing:
            lines += ["", "No licence text could be found at build time for:"]
            lines += [f"  - {item}" for item in self.missing]
        for n, (title, body) in enumerate(self.sections, 1):
            lines += ["", "", "=" * 78, f"{n}. {title}", "=" * 78, "", body.rstrip()]
        return "\n".join(lines) + "\n"


def collect(inspected: dict[str, object]) -> Collector:
    contents = inspected["contents"]
    native = inspected.get("native") or []
    assert isinstance(contents, list) and isinstance(native, list)
    dists = {d.metadata["Name"].lower(): d for d in metadata.distributions()}
    by_wheel: dict[str, list[str]] = {}
    for lib in native:
        if lib.get("from") == "wheel":
            by_wheel.setdefault(lib["package"].lower(), []).append(lib["file"])
    out = Collector()

    # veo
    veo = next(c for c in contents if c["name"] == "veo")
    agpl = ROOT / "packaging" / "licences" / "AGPL-3.0.txt"
    out.section(
        f"veo {veo['version']} (AGPL-3.0-or-later)",
        (ROOT / "LICENSE").read_text() + "\n\n" + agpl.read_text(),
    )
    revision = veo_revision()
    out.sources.append(
        {
            "component": "veo",
            "version": veo["version"],
            "licence": "AGPL-3.0-or-later",
            "source": "",
            "revision": revision,
            "note": "veo's source at this version, including packaging/ and constraints.txt",
        }
    )

    # CPython and the libraries of the interpreter
    python = str(inspected["python"])
    licence_txt = (
        Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "LICENSE.txt"
    )
    files = [lib["file"] for lib in native if lib.get("from") == "python"]
    body = _files_line(files) + (licence_txt.read_text() if licence_txt.exists() else "")
    if not licence_txt.exists():
        out.missing.append(f"CPython {python}")
    out.section(f"CPython {python} (PSF-2.0)", body)
    out.sources.append(
        {
            "component": "CPython",
            "version": python,
            "licence": "PSF-2.0",
            "source": f"https://www.python.org/ftp/python/{python}/Python-{python}.tar.xz",
            "files": files,
        }
    )

    # PyInstaller's bootloader (the head of the file)
    pyi = dists.get("pyinstaller")
    if pyi is not None:
        texts = licence_files(pyi)
        out.section(
            f"PyInstaller {pyi.version} bootloader (GPL-2.0-or-later WITH the bootloader exception)",
            _join(texts),
        )
        out.sources.append(
            {
                "component": "PyInstaller (bootloader)",
                "version": pyi.version,
                "licence": "GPL-2.0-or-later WITH Bootloader-exception",
                **pypi("pyinstaller", pyi.version),
            }
        )

    # the bundled Python distributions and the libraries their wheels carry
    for item in contents:
        name, version, licence = str(item["name"]), str(item["version"]), str(item["license"])
        if name == "veo":
            continue
        dist = dists.get(name.lower())
        texts = licence_files(dist) if dist is not None else []
        notice = debian_copyright(DIST_NOTICES.get(name.lower(), "")) if not texts else None
        if notice is not None:
            package = DIST_NOTICES[name.lower()]
            texts = [
                (
                    f"the notices of Debian's package {package} {debian_version(package)} of the same "
                    "project (this distribution carries no licence file)",
                    notice,
                )
            ]
        if not texts:
            out.missing.append(f"{name} {version}")
        libs = sorted(by_wheel.pop(name.lower(), []))
        body = _join(texts) if texts else "(the distribution carries no licence file)\n"
        if libs:
            body = _wheel_libs(out, name, version, libs, dist) + "\n" + body
        out.section(f"{name} {version} ({licence})", body)
        out.sources.append(
            {
                "component": name,
                "version": version,
                "licence": licence,
                **pypi(name, version),
                **({"files": libs} if libs else {}),
            }
        )
    for package, libs in sorted(by_wheel.items()):  # a wheel that is not in contents (should not happen)
        out.missing.append(f"{package} ({', '.join(libs)})")
        out.section(f"{package} (libraries of a wheel)", _files_line(libs))

    # libraries PyInstaller copied from the build machine's Debian packages
    debian: dict[str, dict[str, object]] = {}
    for lib in native:
        if lib.get("from") == "debian":
            entry = debian.setdefault(str(lib["package"]), {**lib, "files": []})
            entry["files"].append(lib["file"])  # type: ignore[attr-defined]
    for package, lib in sorted(debian.items()):
        text = debian_copyright(package)
        if text is None:
            out.missing.append(f"Debian package {package}")
        files = sorted(lib["files"])  # type: ignore[call-overload]
        src, src_version = str(lib["source"]), str(lib["source_version"])
        out.section(
            f"{package} {lib['version']} (Debian 12; source package {src} {src_version})",
            _files_line(files) + (text or "(no copyright file)\n"),
        )
        out.sources.append(
            {
                "component": f"{package} (Debian)",
                "version": str(lib["version"]),
                "licence": "see its Debian copyright file",
                "source": f"https://snapshot.debian.org/package/{src}/{src_version}/",
                "command": f"apt-get source {src}={src_version}",
                "files": files,
            }
        )
    unknown = [str(lib.get("file")) for lib in native if lib.get("from") not in ("wheel", "python", "debian")]
    if unknown:
        out.missing += [f"{file} (origin unknown)" for file in unknown]
        out.section("Libraries of unknown origin", _files_line(unknown))
    return out


def _wheel_libs(out: Collector, name: str, version: str, libs: list[str], dist: object) -> str:
    """What a wheel's bundled libraries are, their notices, and (as extra sources) where their source is."""
    own = [lib for lib in libs if not any(part.endswith(".libs") for part in Path(lib).parts)]
    libs = [lib for lib in libs if lib not in own]
    lines = (
        [f"Extension modules of {name}'s own code (its licence below):", *(f"  {lib}" for lib in own)]
        if own
        else []
    )
    lines.append("Native libraries this wheel bundled:" if libs else "")
    if name.lower() == "av":
        ffmpeg = _ffmpeg_version()
        notices: dict[str, str] = {}
        for lib in libs:
            upstream, licence, package = AV_LIBS.get(stem(lib), ("?", "see its upstream", ""))
            lines.append(f"  {lib}: {upstream}, {licence}")
            if package and package not in notices:
                text = debian_copyright(package)
                if text is None:
                    out.missing.append(f"{lib} ({upstream}: PyAV's wheel carries no licence text for it)")
                else:
                    notices[package] = (
                        f"--- {upstream}: the notices of Debian's package {package} "
                        f"{debian_version(package)} of the same library (PyAV's wheel carries none; "
                        f"the version inside the agent is pyav-ffmpeg's)\n\n{text}"
                    )
            elif not package:
                out.missing.append(f"{lib} (upstream unknown)")
        sbom = _sbom_rpms(dist)
        out.sources.append(
            {
                "component": f"FFmpeg {ffmpeg} and the libraries in av.libs/ (pyav-ffmpeg)",
                "version": ffmpeg,
                "licence": "GPL-3.0-or-later as combined (FFmpeg LGPL-3.0-or-later, x264/x265 "
                "GPL-2.0-or-later, others LGPL, Apache-2.0, BSD, MIT)",
                "source": "https://github.com/PyAV-Org/pyav-ffmpeg (the release tag for FFmpeg "
                f"{ffmpeg}, named in av {version}'s sdist under scripts/ffmpeg-*.json; its "
                "scripts/build-ffmpeg.py names every library's source archive and version)",
                "files": libs,
            }
        )
        if sbom:
            out.sources.append(
                {
                    "component": "AlmaLinux 8 libraries in av.libs/ (the wheel's SBOM)",
                    "version": ", ".join(sbom),
                    "licence": "MIT",
                    "source": "https://vault.almalinux.org/ (source RPMs: "
                    + ", ".join(f"{rpm}.src.rpm" for rpm in sbom)
                    + ")",
                }
            )
        return "\n".join(lines) + "\n\n" + "\n\n".join(notices.values()) + "\n"
    if name.lower() == "numpy":
        for lib in libs:
            key = next((k for k in NUMPY_LIBS if stem(lib).startswith(k)), None)
            upstream, licence, url = NUMPY_LIBS.get(key or "", ("?", "see numpy's LICENSE.txt", ""))
            lines.append(f"  {lib}: {upstream}, {licence} (notice in numpy's LICENSE.txt below)")
            if url:
                out.sources.append(
                    {
                        "component": f"{upstream} in numpy {version}",
                        "version": "",
                        "licence": licence,
                        "source": url,
                        "files": [lib],
                    }
                )
        return "\n".join(lines) + "\n"
    notices = _static_inside(out, name, version, own, dist)
    lines += [f"  {lib} (its notice: this distribution's licence files below)" for lib in libs]
    if libs:
        out.sources.append(
            {
                "component": f"the libraries in {name} {version}'s wheel",
                "version": version,
                "licence": "see the licence files",
                **pypi(name, version),
                "files": libs,
            }
        )
    return "\n".join(lines) + "\n" + notices


def _static_inside(out: Collector, name: str, version: str, own: list[str], dist: object) -> str:
    """Sources of the libraries linked statically into ``own`` (OpenSSL in cryptography, libsrtp in
    pylibsrtp), by the version strings in the installed extension modules; their notices (from the
    build machine's Debian package of the same library) as text for the distribution's section."""
    if not own or not isinstance(dist, metadata.Distribution):
        return ""
    found: dict[tuple[str, str], list[str]] = {}
    installed = {str(file): file for file in dist.files or []}
    for lib in own:
        file = installed.get(lib)
        if file is None:
            continue
        try:
            data = Path(str(dist.locate_file(file))).read_bytes()
        except OSError:
            continue
        for pattern, (upstream, *_rest) in STATIC.items():
            for match in sorted(set(re.findall(pattern, data))):
                found.setdefault((upstream, match.decode()), []).append(lib)
    notices = ""
    for (upstream, found_version), files in sorted(found.items()):
        licence, url, package = next((lic, u, p) for (up, lic, u, p) in STATIC.values() if up == upstream)
        text = debian_copyright(package)
        if text is None:
            out.missing.append(f"{upstream} {found_version} inside {name} (linked statically)")
        else:
            notices += (
                f"\n--- {upstream} {found_version}, linked statically into {', '.join(files)}: the notices "
                f"of Debian's package {package} {debian_version(package)} of the same library\n\n{text}"
            )
        out.sources.append({
            "component": f"{upstream} inside {name} {version} (linked statically)",
            "version": found_version,
            "licence": licence,
            "source": url.format(v=found_version),
            "files": files,
        })  # fmt: skip
    return notices


def _ffmpeg_version() -> str:
    try:
        import av  # type: ignore[import-not-found]

        return str(av.ffmpeg_version_info)
    except Exception:  # the name is a courtesy; the libraries are listed anyway
        return "?"


def _sbom_rpms(dist: object) -> list[str]:
    """``libxcb-1.13.1-1.el8`` for each RPM the wheel's auditwheel SBOM names."""
    if not isinstance(dist, metadata.Distribution):
        return []
    found = []
    for file in dist.files or []:
        if file.name.endswith(".cdx.json") and "sboms" in file.parts:
            try:
                sbom = json.loads(Path(str(dist.locate_file(file))).read_text())
            except (OSError, ValueError):
                continue
            for component in sbom.get("components", []):
                if str(component.get("purl", "")).startswith("pkg:rpm/"):
                    found.append(f"{component['name']}-{component['version']}")
    return sorted(set(found))


def _files_line(files: list[str]) -> str:
    return ("Files in the agent:\n" + "".join(f"  {f}\n" for f in files) + "\n") if files else ""


def _join(texts: list[tuple[str, str]]) -> str:
    return "\n\n".join(f"--- {name}\n\n{text.rstrip()}" for name, text in texts) + "\n"


def main(argv: list[str]) -> int:
    inspected = json.loads(Path(argv[0]).read_text())
    out_path = Path(argv[1])
    collected = collect(inspected)
    veo = next(c for c in inspected["contents"] if c["name"] == "veo")
    header = f"Licences of {out_path.name.removesuffix('.licences.txt')} (veo {veo['version']})"
    data = collected.render(header).encode()
    out_path.write_bytes(data)
    print(
        json.dumps(
            {
                "licences": {
                    "file": out_path.name,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "missing": collected.missing,
                },
                "sources": collected.sources,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
