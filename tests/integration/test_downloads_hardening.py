"""Issue 15's review (findings 8-10 and the public address): the download side's hardening.

* one strict version pattern for every agent version (manifest, package, VEO_AGENT_MIN_VERSION),
  and a ``Content-Disposition`` that a version can never break;
* a build replaced while someone downloads: the download stays whole, and the platform never
  disappears from the listing;
* the ``.rpm`` row and its licences page;
* VEO_PUBLIC_URL checked at start-up with the agent's own rule.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pydantic import ValidationError
from tests.integration.downloads_support import stand_in, write_manifest

from veo.config import Settings, is_agent_version
from veo.server.downloads import package_tree, pages, store

BAD_VERSIONS = [
    '0.2.0"; filename=evil.sh',
    "0.2/../../x",
    "0.2.0\n",
    "0.2.0 ",
    "0.2.0;x",
    "0.2.0-1",
    "v0.2.0",
    "",
    "0.2.0..1",
    "0.2.0+",
    "1" + "0" * 40,
]
GOOD_VERSIONS = ["0.2.0", "1", "0.2.0~rc1", "0.2.0+local.1", "0.2.10.dev3", "2026.12.6"]


# ---------------------------------------------------------------- finding 8: one version pattern


@pytest.mark.parametrize("version", GOOD_VERSIONS)
def test_an_ordinary_version_passes_everywhere(version: str, tmp_path: Path) -> None:
    assert is_agent_version(version)
    package_tree.check_version(version)
    assert Settings(agent_min_version=version).agent_min_version == version
    built = stand_in(tmp_path / "dist", "deb-amd64", version)
    assert store.add(tmp_path / "agents", built).manifest.version == version


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_a_version_with_anything_else_is_refused_everywhere_with_a_sentence(
    version: str, tmp_path: Path
) -> None:
    assert not is_agent_version(version)
    with pytest.raises(ValueError, match=r"is not a package version \(such as 0\.2\.0"):
        package_tree.check_version(version)
    if version.strip() and version.strip() != version:  # the setting strips the spaces around it
        assert Settings(agent_min_version=version).agent_min_version == version.strip()
    else:
        with pytest.raises(
            ValidationError, match=r"VEO_AGENT_MIN_VERSION must be a version such as|at most 40 characters"
        ):
            Settings(agent_min_version=version)
    built = stand_in(tmp_path / "dist", "deb-amd64", "0.2.0")
    write_manifest(built, "deb-amd64", version)
    with pytest.raises(store.StoreError, match=r"is not valid \((version|JSON)"):
        store.add(tmp_path / "agents", built)
    assert not (tmp_path / "agents").exists() or not list((tmp_path / "agents").iterdir())


def test_a_manifest_already_in_the_folder_with_a_bad_version_is_a_problem_not_a_download(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "agents"
    store.add(folder, stand_in(tmp_path / "dist", "deb-amd64", "0.2.0"))
    manifest = folder / "veo-agent_0.2.0_amd64.deb.json"
    data = json.loads(manifest.read_text())
    data["version"] = '0.2.0"; filename=evil.sh'
    manifest.write_text(json.dumps(data))
    listing = store.list_builds(folder)
    assert listing.builds == {}
    assert any("is not valid (version" in p for p in listing.problems), listing.problems


def test_the_pattern_does_not_backtrack_for_long() -> None:
    started = time.monotonic()
    for text in ("1" + "a" * 39 + "!", "1." + "a." * 19 + "!", "1" + "~a" * 19 + "~~"):
        assert not is_agent_version(text)
        assert not package_tree.VERSION.fullmatch(text)
    assert time.monotonic() - started < 0.5


def test_the_glibc_floor_is_matched_whole(tmp_path: Path) -> None:
    binary = tmp_path / "veo-agent-linux-x86_64"
    binary.write_bytes(b"\x7fELF")
    for given, floor in (("2.36", "2.36"), ("2.36\n", package_tree.DEFAULT_GLIBC), ("2.36.1", "2.35")):
        (tmp_path / "veo-agent-linux-x86_64.json").write_text(json.dumps({"glibc": given}))
        assert package_tree.glibc_floor(binary) == floor, given


def test_content_disposition_quotes_only_a_plain_name() -> None:
    assert (
        pages.attachment("veo-agent_0.2.0~rc1_amd64.deb")
        == 'attachment; filename="veo-agent_0.2.0~rc1_amd64.deb"'
    )
    header = pages.attachment('x"; filename=evil.sh\r\nSet-Cookie: a=b')
    assert header.count('"') == 2 and "\r" not in header and "\n" not in header and "evil.sh;" not in header
    assert header.startswith(
        "attachment; filename=\"veo-agent\"; filename*=UTF-8''x%22%3B%20filename%3Devil.sh"
    )
