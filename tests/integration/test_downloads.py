"""``/download``, the operator's folder of builds, ``veo admin agent`` and the version at join.

Against the real app and database (the ``app``/``client`` fixtures; the join over a real
WebSocket of a live server). The builds are small stand-ins (``downloads_support.py``): what the
server does with a build does not depend on what is inside it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from tests.integration.downloads_support import stand_in, write_manifest
from tests.integration.live_server import serving
from tests.support import BASE_URL, PASSWORD, api_token, enrol_totp, login, make_user, ticket_body
from websockets.asyncio.client import connect

from veo.config import Settings
from veo.i18n import gettext_for
from veo.protocol import agent_config
from veo.protocol.signaling import Join
from veo.server import admin, metrics
from veo.server.downloads import platforms, store

LINUX_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
WINDOWS_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
HTML = {"accept": "text/html"}
OUTDATED = (
    "This veo app is too old for this server: it is version %(have)s, the server needs "
    "%(minimum)s or newer. Download the new veo app from %(url)s and open it; your code "
    "stays valid until it expires."
)


def _agents(app: FastAPI) -> Path:
    settings: Settings = app.state.settings
    return store.agents_dir(settings.data_dir)


def _place(app: FastAPI, tmp_path: Path, platform: str = "linux-x86_64", version: str = "0.2.0") -> Path:
    built = stand_in(tmp_path / "dist" / platform, platform, version)
    store.add(_agents(app), built)
    return built


def _run_admin(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = admin.main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- the folder


def test_a_build_is_put_in_place_with_its_manifest_and_replaced_by_the_next(tmp_path: Path) -> None:
    folder = tmp_path / "agents"
    first = stand_in(tmp_path / "dist", version="0.2.0")
    build = store.add(folder, first)
    assert build.path == folder / "veo-agent-linux-x86_64"
    assert build.path.read_bytes() == first.read_bytes()
    assert json.loads((folder / "veo-agent-linux-x86_64.json").read_text())["contents"][0]["name"] == "aiortc"
    second = stand_in(tmp_path / "dist2", version="0.2.1")
    store.add(folder, second)
    listing = store.list_builds(folder)
    assert listing.problems == []
    assert listing.builds["linux-x86_64"].manifest.version == "0.2.1"
    assert sorted(p.name for p in folder.iterdir()) == [
        "veo-agent-linux-x86_64",
        "veo-agent-linux-x86_64.json",
    ]


def test_a_new_deb_replaces_the_deb_of_another_version(tmp_path: Path) -> None:
    folder = tmp_path / "agents"
    store.add(folder, stand_in(tmp_path / "a", "deb-amd64", "0.2.0"))
    store.add(folder, stand_in(tmp_path / "b", "deb-amd64", "0.2.1"))
    assert sorted(p.name for p in folder.iterdir()) == [
        "veo-agent_0.2.1_amd64.deb",
        "veo-agent_0.2.1_amd64.deb.json",
    ]


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("bytes", "SHA-256 of"),
        ("size", "bytes, but its manifest says"),
        ("no_manifest", "There is no manifest"),
        ("bad_manifest", "is not valid (platform"),
        ("bad_version", "is not valid (version"),
        ("not_elf", "is not a linux-x86_64 build"),
        ("downloaded", "already carries a server's configuration (https://evil.example)"),
        ("cut_trailer", "already carries a server's configuration"),
    ],
)
def test_a_bad_build_is_refused_with_a_sentence_and_the_build_in_place_stays(
    tmp_path: Path, damage: str, expected: str
) -> None:
    folder = tmp_path / "agents"
    good = store.add(folder, stand_in(tmp_path / "good", version="0.2.0"))
    before = good.path.read_bytes()
    bad = stand_in(tmp_path / "bad", version="0.2.1")
    data = bad.read_bytes()
    if damage == "bytes":
        bad.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    elif damage == "size":
        bad.write_bytes(data + b"x")
    elif damage == "no_manifest":
        bad.with_name(bad.name + ".json").unlink()
    elif damage == "bad_manifest":
        write_manifest(bad, "windows-x86_64", "0.2.1")
    elif damage == "bad_version":
        write_manifest(bad, "linux-x86_64", "latest")
    elif damage == "not_elf":
        bad.write_bytes(b"MZ" + data[2:])
        write_manifest(bad, "linux-x86_64", "0.2.1")
    elif damage in ("downloaded", "cut_trailer"):
        trailer = agent_config.seal(
            agent_config.EmbeddedConfig(server="https://evil.example", code="123456789")
        )
        bad.write_bytes(data + (trailer if damage == "downloaded" else trailer[:-10]))
        write_manifest(bad, "linux-x86_64", "0.2.1")
    with pytest.raises(store.StoreError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        store.add(folder, bad)
    assert good.path.read_bytes() == before
    assert store.find(folder, "linux-x86_64") == good
    assert sorted(p.name for p in folder.iterdir()) == [
        "veo-agent-linux-x86_64",
        "veo-agent-linux-x86_64.json",
    ]


def test_the_listing_skips_a_file_that_does_not_match_its_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "agents"
    build = store.add(folder, stand_in(tmp_path / "dist"))
    with build.path.open("ab") as handle:
        handle.write(b"more")
    listing = store.list_builds(folder)
    assert listing.builds == {}
    assert "its manifest says" in listing.problems[0]
    assert store.remove(folder, "linux-x86_64") is None  # nothing usable in place


@pytest.mark.parametrize(
    ("user_agent", "system"),
    [
        (LINUX_UA, "linux-x86_64"),
        ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", "linux-x86_64"),
        ("Mozilla/5.0 (X11; Linux aarch64; rv:120.0) Gecko/20100101 Firefox/120.0", "linux-other"),
        (WINDOWS_UA, "windows"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.0", "macos"),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
            "chromeos",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36",
            "mobile",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
            "mobile",
        ),
        ("Mozilla/5.0 (X11; FreeBSD amd64; rv:120.0) Gecko/20100101 Firefox/120.0", "unknown"),
        ("", "unknown"),
    ],
)
def test_the_visitors_system_comes_from_the_user_agent(user_agent: str, system: str) -> None:
    assert platforms.detect(user_agent) == system


# ---------------------------------------------------------------- veo admin agent


def test_admin_agent_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    built = stand_in(tmp_path / "dist")
    code, out, _err = _run_admin([*data, "agent", "list"], capsys)
    assert code == 0 and "No build is in place" in out
    code, out, err = _run_admin([*data, "agent", "add", str(built)], capsys)
    assert code == 0, err
    assert "Put in place: linux-x86_64 0.2.0" in out and "/download" in out
    code, out, _err = _run_admin([*data, "agent", "list"], capsys)
    assert code == 0 and out.startswith("linux-x86_64: 0.2.0") and "needs glibc 2.31" in out
    code, out, _err = _run_admin([*data, "agent", "remove", "linux-x86_64"], capsys)
    assert code == 0 and "no longer offers it" in out
    assert not (tmp_path / "data" / "agents" / "veo-agent-linux-x86_64").exists()
    code, _out, err = _run_admin([*data, "agent", "remove", "linux-x86_64"], capsys)
    assert code == 1 and "No linux-x86_64 build was in place." in err


def test_admin_agent_add_refuses_a_bad_build_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built = stand_in(tmp_path / "dist")
    built.write_bytes(built.read_bytes()[:-1] + b"!")
    code, out, err = _run_admin(["--data-dir", str(tmp_path / "data"), "agent", "add", str(built)], capsys)
    assert code == 1 and out == ""
    assert err.startswith("veo admin: The SHA-256 of") and err.count("\n") == 1 and "Traceback" not in err


def test_package_deb_needs_a_linux_build_and_good_servers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    code, _out, err = _run_admin([*data, "agent", "package-deb", "--server", "ftp://example.org"], capsys)
    assert code == 2 and "invalid --server" in err and "http(s) address" in err
    code, _out, err = _run_admin([*data, "agent", "package-deb"], capsys)
    assert code == 1 and "No Linux build is in place to package" in err


def test_package_deb_puts_a_deb_for_the_named_servers_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        from veo.server.downloads import deb  # noqa: F401  (the build helper's module)
    except ImportError:
        pytest.skip("veo.server.downloads.deb is not there yet")
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed")
    data = ["--data-dir", str(tmp_path / "data")]
    assert _run_admin([*data, "agent", "add", str(stand_in(tmp_path / "dist"))], capsys)[0] == 0
    code, out, err = _run_admin(
        [*data, "agent", "package-deb", "--server", "https://support.example.org", "--organization", "ACME"],
        capsys,
    )
    assert code == 0, err
    assert "veo-agent_0.2.0_amd64.deb" in out and "https://support.example.org" in out
    built = store.find(tmp_path / "data" / "agents", "deb-amd64")
    assert built is not None and built.path.read_bytes().startswith(b"!<arch>\n")
    assert built.manifest.model_extra == {"servers": ["https://support.example.org"], "organization": "ACME"}
    assert not [p for p in built.path.parent.iterdir() if p.name.startswith(".")]  # no work folder left


# ---------------------------------------------------------------- the pages


async def _admin_signed_in(app: FastAPI, client: httpx.AsyncClient) -> None:
    """An administrator signed in through the forms (password, then the TOTP code admins need)."""
    make_user(app.state.db, "boss@example.org", role="admin")
    secret = enrol_totp(app.state.db, "boss@example.org")
    await client.post("/login", data={"email": "boss@example.org", "password": PASSWORD})
    signed = await client.post("/login/totp", data={"code": pyotp.TOTP(secret).now()})
    assert signed.status_code == 303, signed.text


async def test_the_linux_visitor_gets_the_linux_file_first(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    _place(app, tmp_path)
    page = await client.get("/download?lang=en", headers={**HTML, "user-agent": LINUX_UA})
    assert page.status_code == 200
    html = page.text
    assert 'data-system="linux-x86_64"' in html
    assert (
        'id="download-linux" class="button primary download-button" href="/download/linux-x86_64?lang=en"'
        in html
    )
    assert "Allow executing file as program" in html and "chmod +x ~/Downloads/veo-agent" in html
    assert "This server accepts veo 0.1.0 or newer." in html
    assert 'id="download-admin"' not in html  # for administrators only
    assert 'id="download-deb"' not in html  # no .deb in place


async def test_the_windows_visitor_is_told_the_truth_and_offered_the_browser_share(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    _place(app, tmp_path)
    page = await client.get("/download?lang=es&code=123-456-789", headers={**HTML, "user-agent": WINDOWS_UA})
    html = page.text
    assert page.status_code == 200 and 'lang="es"' in html
    assert 'data-system="windows"' in html
    assert (
        gettext_for("es").gettext("There is no veo app for %(system)s yet.") % {"system": "Windows"} in html
    )
    assert 'id="download-share" class="button primary" href="/join?code=123456789"' in html
    assert 'href="/download/linux-x86_64?code=123456789&amp;lang=es"' in html  # listed below, with the code


async def test_without_a_build_the_user_is_sent_to_the_technician_and_the_admin_told_how(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    page = await client.get("/download?lang=en", headers={**HTML, "user-agent": LINUX_UA})
    assert "This server has no veo app for Linux yet. Ask your technician" in page.text
    assert "make agent" not in page.text
    await _admin_signed_in(app, client)
    page = await client.get("/download?lang=en", headers={**HTML, "user-agent": LINUX_UA})
    assert 'id="download-admin"' in page.text
    assert "<code>make agent</code>" in page.text
    data_dir = app.state.settings.data_dir.resolve()
    assert f"veo admin --data-dir {data_dir} agent add dist/agent/veo-agent-linux-x86_64" in page.text
    assert page.text.index('id="download-admin"') < page.text.index('id="download-main"')  # first: act
    file = await client.get("/download/linux-x86_64?lang=en", headers=HTML)
    assert file.status_code == 404 and "Ask your technician" in file.text


async def test_the_admin_is_warned_of_a_build_older_than_the_server_accepts(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"agent_min_version": "0.3.0"})
    _place(app, tmp_path, version="0.2.0")
    await _admin_signed_in(app, client)
    html = (await client.get("/download?lang=en", headers=HTML)).text
    assert "This server accepts veo 0.3.0 or newer." in html
    assert "is version 0.2.0, older than VEO_AGENT_MIN_VERSION (0.3.0)" in html
    assert html.index('id="download-admin"') < html.index('id="download-main"')


async def test_the_file_carries_this_server_its_organization_the_code_and_the_language(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"organization": "ACME Soporte"})
    built = _place(app, tmp_path)
    labels = {"platform": "linux-x86_64", "with_code": "yes"}
    before = metrics.REGISTRY.get_sample_value("veo_agent_downloads_total", labels) or 0.0
    response = await client.get("/download/linux-x86_64?code=123%20456%20789&lang=es")
    assert response.status_code == 200
    assert metrics.REGISTRY.get_sample_value("veo_agent_downloads_total", labels) == before + 1
    assert response.headers["content-disposition"] == 'attachment; filename="veo-agent"'
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-type"] == "application/octet-stream"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.content.startswith(built.read_bytes())
    saved = tmp_path / "Downloads" / "veo-agent"
    saved.parent.mkdir()
    saved.write_bytes(response.content)
    config = agent_config.read_embedded(saved)
    assert config == agent_config.EmbeddedConfig(
        server=BASE_URL, organization="ACME Soporte", code="123456789", language="es"
    )
    # the page's language when ?lang= is absent, and no code from a plain download
    plain = await client.get("/download/linux-x86_64", headers={"accept-language": "es-ES,es;q=0.9"})
    embedded = agent_config.unseal_tail(plain.content[-agent_config.SEARCH_BYTES :])
    assert embedded is not None and embedded.code == "" and embedded.language == "es"
    assert embedded.organization == "ACME Soporte"
    assert store.find(_agents(app), "linux-x86_64") is not None  # the stored build is untouched
    assert agent_config.read_embedded(_agents(app) / "veo-agent-linux-x86_64") is None


@pytest.mark.parametrize("code", ["12345678", "1234567890", "12345678a", "<script>", "123456789&code=1"])
async def test_a_malformed_code_is_refused_with_a_sentence_and_never_embedded(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path, code: str
) -> None:
    _place(app, tmp_path)
    response = await client.get("/download/linux-x86_64", params={"code": code})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_code"
    assert "code that is not valid" in response.json()["message"]
    page = await client.get("/download/linux-x86_64", params={"code": code, "lang": "en"}, headers=HTML)
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    assert "Download veo without it" in page.text and "<script>" not in page.text.split("<main")[1]
    assert 'id="download-without-code" class="button primary" href="/download?lang=en"' in page.text
    assert (await client.get("/download", params={"code": code}, headers=HTML)).status_code == 400


async def test_the_deb_is_served_as_it_is_and_unknown_downloads_are_a_sentence(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    deb = _place(app, tmp_path, "deb-amd64")
    response = await client.get("/download/deb-amd64?code=123456789")
    assert response.status_code == 200 and response.content == deb.read_bytes()
    assert response.headers["content-disposition"] == 'attachment; filename="veo-agent_0.2.0_amd64.deb"'
    assert response.headers["content-type"] == "application/vnd.debian.binary-package"
    unknown = await client.get("/download/windows-x86_64")
    assert unknown.status_code == 404 and unknown.json()["message"].startswith(
        "veo has no download of that name"
    )
    _place(app, tmp_path)
    page = await client.get("/download?lang=en", headers={**HTML, "user-agent": LINUX_UA})
    assert 'id="download-deb" href="/download/deb-amd64"' in page.text


async def test_the_join_page_offers_the_configured_file_and_the_installed_app(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    html = (await client.get("/join?code=123456789&lang=en", headers={"user-agent": LINUX_UA})).text
    assert '<a id="agent-download" href="/download?code=123456789&amp;lang=en"' in html  # no build yet
    assert (
        'id="open-veo" class="button" href="veo://join?server=http%3A%2F%2F127.0.0.1%3A8000&amp;code=123456789"'
        in html
    )
    assert f"veo agent --server {BASE_URL} --code 123456789" in html  # the terminal, folded away
    _place(app, tmp_path)
    html = (await client.get("/join?code=123456789&lang=en", headers={"user-agent": LINUX_UA})).text
    assert '<a id="agent-download" href="/download/linux-x86_64?code=123456789&amp;lang=en"' in html
    assert "This file already carries your code" in html
    windows = (await client.get("/join?code=123456789&lang=en", headers={"user-agent": WINDOWS_UA})).text
    assert "There is no veo app for Windows yet" in windows
    assert '<a id="agent-download" href="/download?code=123456789&amp;lang=en"' in windows


async def test_the_console_says_where_the_user_gets_the_app(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db, "tech@example.org")
    auth = await api_token(client, "tech@example.org")
    ticket = (await client.post("/api/v1/tickets", json=ticket_body(), headers=auth)).json()
    made = (await client.post(f"/api/v1/tickets/{ticket['id']}/sessions", json={}, headers=auth)).json()
    await login(client, "tech@example.org")
    console = (await client.get(f"/sessions/{made['id']}/console")).text
    assert 'id="console-download"' in console and f'href="{BASE_URL}/download"' in console


# ---------------------------------------------------------------- the version at join


def test_the_oldest_agent_accepted_is_a_checked_setting() -> None:
    assert Settings().agent_min_version == agent_config.MIN_AGENT_VERSION
    assert Settings(agent_min_version=" 0.3 ").agent_min_version == "0.3"
    with pytest.raises(ValidationError, match="VEO_AGENT_MIN_VERSION must be a version such as"):
        Settings(agent_min_version="latest")


async def _new_code(base_url: str, email: str) -> str:
    async with httpx.AsyncClient(base_url=base_url) as client:
        auth = await api_token(client, email)
        ticket = (await client.post("/api/v1/tickets", json=ticket_body(), headers=auth)).json()
        made = await client.post(f"/api/v1/tickets/{ticket['id']}/sessions", json={}, headers=auth)
        assert made.status_code == 201, made.text
    code: str = made.json()["code"]
    return code


async def _join(base_url: str, join: Join) -> dict[str, object]:
    async with connect(base_url.replace("http", "ws") + "/ws/agent") as ws:
        await ws.send(join.dumps())
        answer: dict[str, object] = json.loads(await ws.recv())
    return answer


async def test_an_outdated_agent_is_told_what_to_do_and_its_code_stays_usable(tmp_path: Path) -> None:
    async with serving(tmp_path, "downloads-version", agent_min_version="0.2.0") as (base_url, app):
        async with httpx.AsyncClient(base_url=base_url) as client:
            assert (await client.get("/healthz")).status_code == 200  # migrated: users may be written
        make_user(app.state.db, "tech@example.org")
        code = await _new_code(base_url, "tech@example.org")
        # more refusals than the limiter lets wrong codes through: none of them counts as one
        for version, language in [("0.1.9", "en"), ("", "en"), ("garbage", "en")] + [("0.1.0", "es")] * 8:
            answer = await _join(base_url, Join(code=code, agent_version=version, language=language))
            assert answer["type"] == "error" and answer["code"] == "agent_outdated", answer
            assert answer["fatal"] is True and answer["min_version"] == "0.2.0"
            assert answer["download_url"] == f"{base_url}/download"
            message = str(answer["message"])
            assert f"{base_url}/download" in message and "0.2.0" in message
            have = version or "0.1.0"
            expected = gettext_for(language).gettext(OUTDATED) % {
                "have": have,
                "minimum": "0.2.0",
                "url": f"{base_url}/download",
            }
            assert message == expected  # in the agent's language
        joined = await _join(base_url, Join(code=code, agent_version="0.2.0"))
        assert joined["type"] == "joined", joined
        # the browser share sends no version and is not an agent to update
        other = await _new_code(base_url, "tech@example.org")
        shared = await _join(base_url, Join(code=other, client="browser"))
        assert shared["type"] == "joined", shared


def test_a_download_links_code_never_reaches_the_access_log() -> None:
    from veo.server.accesslog import redact_target

    assert redact_target("/download/linux-x86_64?code=123456789&lang=es") == (
        "/download/linux-x86_64?code=[redacted]&lang=es"
    )
    assert redact_target("/download?code=123456789") == "/download?code=[redacted]"
