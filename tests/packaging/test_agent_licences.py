"""The licence texts ``make agent`` writes beside the one-file agent, and the manifest's sources.

``dist/agent/veo-agent-linux-x86_64.licences.txt`` (``packaging/agent_licences.py``) must cover what
is really in the file: every Python distribution in the manifest's ``contents`` and every native
library in ``native``, with the full texts of the copyleft licences; ``sources`` must say where the
corresponding source of each of them is (docs/agent-build.md).
"""

from __future__ import annotations

import hashlib

from tests.packaging.support import BuiltAgent

FULL_TEXTS = (
    "GNU AFFERO GENERAL PUBLIC LICENSE",
    "GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007",
    "GNU GENERAL PUBLIC LICENSE\n                       Version 2, June 1991",
    "GNU LESSER GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007",
    "GNU LESSER GENERAL PUBLIC LICENSE\n                       Version 2.1, February 1999",
    "Apache License\n                           Version 2.0, January 2004",
)


def _texts(built_agent: BuiltAgent) -> tuple[dict[str, object], str]:
    licences = built_agent.manifest["licences"]
    assert isinstance(licences, dict)
    path = built_agent.path.with_name(str(licences["file"]))
    assert path.name == built_agent.path.name + ".licences.txt"
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == licences["sha256"] and len(data) == licences["size"]
    return licences, data.decode("utf-8")


def test_the_licence_texts_name_every_distribution_and_every_native_library(built_agent: BuiltAgent) -> None:
    licences, text = _texts(built_agent)
    contents_table = text.split("\n" + "=" * 78, 1)[0]  # the table of contents, before the sections
    contents = built_agent.manifest["contents"]
    native = built_agent.manifest["native"]
    assert isinstance(contents, list) and isinstance(native, list) and native
    for item in contents:
        assert f"{item['name']} {item['version']}" in contents_table, item
    for library in native:
        assert f"  {library['file']}" in text, library
    for full_text in FULL_TEXTS:
        assert full_text in text, full_text
    assert "the file as a whole is\nconveyed under the terms of the GNU GPL version 3 or later" in text
    # every distribution brought its own licence files; what has none is said, never silently left out
    missing = licences["missing"]
    assert isinstance(missing, list)
    for item in contents:
        assert not any(str(m).startswith(f"{item['name']} {item['version']}") for m in missing), missing
    for item in missing:  # named in the file too, under the table of contents
        assert f"  - {item}" in contents_table, item


def test_the_manifest_says_where_every_parts_source_is(built_agent: BuiltAgent) -> None:
    sources = built_agent.manifest["sources"]
    contents = built_agent.manifest["contents"]
    native = built_agent.manifest["native"]
    assert isinstance(sources, list) and isinstance(contents, list) and isinstance(native, list)
    by_component = {s["component"]: s for s in sources}
    for item in contents:
        source = by_component[item["name"]]
        assert source["version"] == item["version"]
        if item["name"] != "veo":  # veo's own: the server's VEO_SOURCE_URL, at the revision built
            assert source["source"] == f"https://pypi.org/project/{item['name']}/{item['version']}/#files"
    assert by_component["veo"]["revision"]  # a git checkout: the commit it was built from
    python = by_component["CPython"]
    assert python["source"].endswith(f"/Python-{python['version']}.tar.xz")
    assert by_component["PyInstaller (bootloader)"]["source"].startswith(
        "https://pypi.org/project/pyinstaller/"
    )
    covered = {file for s in sources for file in s.get("files", [])}
    assert [lib["file"] for lib in native if lib["file"] not in covered] == []
    for lib in native:
        if lib["from"] == "debian":
            entry = next(s for s in sources if lib["file"] in s.get("files", []))
            assert entry["command"] == f"apt-get source {lib['source']}={lib['source_version']}"
    assert any("pyav-ffmpeg" in s["source"] for s in sources)
