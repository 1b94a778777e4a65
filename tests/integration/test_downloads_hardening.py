"""Issue 15's review (findings 8-10 and the public address): the download side's hardening.

* one strict version pattern for every agent version (manifest, package, VEO_AGENT_MIN_VERSION),
  and a ``Content-Disposition`` that a version can never break;
* a build replaced while someone downloads: the download stays whole, and the platform never
  disappears from the listing;
* the ``.rpm`` row and its licences page;
* VEO_PUBLIC_URL checked at start-up with the agent's own rule.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import time
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from tests.integration.downloads_support import stand_in, write_manifest

from veo.config import Settings, is_agent_version
from veo.server.downloads import links, package_tree, pages, store

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


# ---------------------------------------------------------------- finding 9: replacing a build


def _agents(app: FastAPI) -> Path:
    settings: Settings = app.state.settings
    return store.agents_dir(settings.data_dir)


def _replace_with(folder: Path, where: Path, platform: str, version: str, size: int) -> bytes:
    built = stand_in(where, platform, version, size=size)
    store.add(folder, built)
    return built.read_bytes()


@pytest.mark.parametrize("platform", ["linux-x86_64", "deb-amd64"])
async def test_a_build_replaced_after_the_download_opened_it_does_not_change_the_download(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    folder = _agents(app)
    old = stand_in(tmp_path / "old", platform, "0.2.0", size=96 * 1024)
    store.add(folder, old)
    real_open = pages._open

    def open_then_replace(path: Path) -> tuple[BinaryIO, int]:
        opened = real_open(path)
        # the same name, another size: what veo admin agent add does while this download runs
        _replace_with(folder, tmp_path / "new", platform, "0.2.0", 32 * 1024)
        return opened

    monkeypatch.setattr(pages, "_open", open_then_replace)
    response = await client.get(f"/download/{platform}")
    assert response.status_code == 200
    body = response.content
    assert body[: len(old.read_bytes())] == old.read_bytes()
    assert int(response.headers["content-length"]) == len(body)
    if platform == "deb-amd64":
        assert body == old.read_bytes()


@pytest.mark.parametrize("platform", ["linux-x86_64", "deb-amd64"])
async def test_a_build_replaced_just_before_the_download_opens_it_is_sent_whole(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    """The size sent is the size of the file opened, whatever happened after the listing."""
    folder = _agents(app)
    store.add(folder, stand_in(tmp_path / "old", platform, "0.2.0", size=96 * 1024))
    target = store.find(folder, platform)
    assert target is not None
    real_open = io.open
    new: list[bytes] = []

    def open_after_a_replacement(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if not new and mode == "rb" and str(file) == str(target.path):
            new.append(b"")  # once, and not for the add's own reads
            new[0] = _replace_with(folder, tmp_path / "new", platform, "0.2.0", 32 * 1024)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", open_after_a_replacement)
    monkeypatch.setattr(builtins, "open", open_after_a_replacement)
    response = await client.get(f"/download/{platform}")
    monkeypatch.undo()
    assert new and new[0]
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.content[: len(new[0])] == new[0]
    if platform == "deb-amd64":
        assert response.content == new[0]


async def test_a_package_replaced_by_another_version_between_listing_and_opening_is_the_new_one_whole(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _agents(app)
    store.add(folder, stand_in(tmp_path / "old", "deb-amd64", "0.2.0"))
    real_builds = links.builds
    new: list[bytes] = []

    async def listed_then_replaced(settings: Settings) -> store.Listing:
        listing = await real_builds(settings)
        if not new:  # the old .deb is removed by the add of 0.2.1
            new.append(_replace_with(folder, tmp_path / "new", "deb-amd64", "0.2.1", 48 * 1024))
        return listing

    monkeypatch.setattr(links, "builds", listed_then_replaced)
    response = await client.get("/download/deb-amd64")
    assert response.status_code == 200
    assert response.content == new[0]
    assert response.headers["content-disposition"] == 'attachment; filename="veo-agent_0.2.1_amd64.deb"'


@pytest.mark.parametrize(
    ("platform", "versions"),
    [
        ("linux-x86_64", ("0.2.0", "0.2.1")),
        ("deb-amd64", ("0.2.0", "0.2.0")),
        ("deb-amd64", ("0.2.0", "0.3.0")),
    ],
)
def test_the_platform_never_leaves_the_listing_while_add_replaces_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, versions: tuple[str, str]
) -> None:
    folder = tmp_path / "agents"
    store.add(folder, stand_in(tmp_path / "old", platform, versions[0], size=64 * 1024))
    seen: list[str] = []

    def check(step: str) -> None:
        listing = store.list_builds(folder)
        build = listing.builds.get(platform)
        assert build is not None, (step, listing.problems)
        data = build.file.read_bytes()
        assert len(data) == build.manifest.size, step
        assert hashlib.sha256(data).hexdigest() == build.manifest.sha256, step
        seen.append(build.manifest.version)

    real_replace, real_unlink = Path.replace, Path.unlink

    def replace(self: Path, target: Path) -> Path:
        moved = real_replace(self, target)
        if self.parent == folder:
            check(f"replace {self.name} -> {Path(target).name}")
        return moved

    def unlink(self: Path, missing_ok: bool = False) -> None:
        real_unlink(self, missing_ok=missing_ok)
        if self.parent == folder:
            check(f"unlink {self.name}")

    monkeypatch.setattr(Path, "replace", replace)
    monkeypatch.setattr(Path, "unlink", unlink)
    store.add(folder, stand_in(tmp_path / "new", platform, versions[1], size=32 * 1024))
    monkeypatch.undo()
    assert seen and seen[-1] == versions[1]
    assert store.find(folder, platform) is not None
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_two_manifests_of_one_platform_the_highest_version_serves_and_the_other_is_a_problem(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "agents"
    store.add(folder, stand_in(tmp_path / "a", "deb-amd64", "0.10.0"))
    older = stand_in(tmp_path / "b", "deb-amd64", "0.9.0")
    for name in (older.name, older.name + ".json"):  # a crash left the old pair behind
        (folder / name).write_bytes((older.parent / name).read_bytes())
    listing = store.list_builds(folder)
    assert listing.builds["deb-amd64"].manifest.version == "0.10.0"
    assert len(listing.problems) == 1
    assert (
        "is a second deb-amd64 build (version 0.9.0); version 0.10.0 is the one served" in listing.problems[0]
    )


# ---------------------------------------------------------------- finding 10: the .rpm's names


def test_every_platform_has_a_name_for_its_licences_page() -> None:
    for platform in store.PLATFORMS:
        name = pages._platform_name(platform)
        assert platform not in name and name != "veo", platform


# ---------------------------------------------------------------- VEO_PUBLIC_URL


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://support.example.org/?a=1", "must not carry a query, fragment or user name"),
        ("https://support.example.org/#top", "must not carry a query, fragment or user name"),
        ("https://admin:secret@support.example.org", "must not carry a query, fragment or user name"),
        ("https://support example.org", "must not contain spaces or control characters"),
        ("https://support.example.org/\nx", "must not contain spaces or control characters"),
        ("https://", "must be an http(s) address with a host name"),
        ("https://support.example.org/" + "a" * 300, "must be at most 300 characters long"),
        ("ftp://support.example.org", "must start with http:// or https://"),
    ],
)
def test_a_public_address_the_agent_would_refuse_stops_start_up_with_a_sentence(
    value: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEO_PUBLIC_URL", value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    assert "VEO_PUBLIC_URL" in message and expected in message, message


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://support.example.org/", "https://support.example.org"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://support.example.org/veo/", "https://support.example.org/veo"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_an_ordinary_public_address_is_kept(value: str, kept: str) -> None:
    assert Settings(public_url=value).public_url == kept
