"""Where the agent's server, code and language come from (``agent/launch.py``), and what it says
when a source cannot be used: precedence, each problem's sentence, and damaged trailers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veo.agent import launch as launch_mod
from veo.agent.launch import (
    Launch,
    LaunchProblem,
    decide,
    embedded_source,
    installed_config_path,
    server_label,
)
from veo.agent.main import main
from veo.i18n import gettext_for
from veo.protocol.agent_config import (
    END,
    INSTALLED_CONFIG_PATH,
    START,
    AgentConfigError,
    EmbeddedConfig,
    join_link,
    read_embedded,
    seal,
    unseal_tail,
)

SERVER = "https://support.acme.example"
OTHER = "https://help.evil.example"
BUILD = b"\x7fELF" + b"pretend this is the one-file build" * 50


def _copy(tmp_path: Path, config: EmbeddedConfig | None, name: str = "veo-agent") -> Path:
    path = tmp_path / name
    path.write_bytes(BUILD + (seal(config) if config is not None else b""))
    return path


def _installed(tmp_path: Path, *servers: str, organization: str = "ACME IT") -> Path:
    path = tmp_path / "agent.json"
    path.write_text(json.dumps({"v": 1, "servers": list(servers), "organization": organization}))
    return path


def _decide(
    tmp_path: Path,
    *,
    server: str | None = None,
    code: str | None = None,
    link: str | None = None,
    embedded: Path | None = None,
    installed: Path | None = None,
    language: str | None = None,
    system_language: str = "en",
) -> Launch:
    return decide(
        server=server,
        code=code,
        link=link,
        embedded=embedded,
        installed=installed or tmp_path / "no-such-agent.json",
        language=language,
        system_language=system_language,
    )


def _problem(tmp_path: Path, **kwargs: object) -> LaunchProblem:
    with pytest.raises(LaunchProblem) as raised:
        _decide(tmp_path, **kwargs)  # type: ignore[arg-type]
    return raised.value


# ---------------------------------------------------------------- precedence


def test_command_line_wins_and_nothing_else_is_read(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.write_bytes(seal(EmbeddedConfig(server=OTHER, code="111111111"))[:-5])  # cut short
    bad_installed = tmp_path / "bad.json"
    bad_installed.write_text("{not json")
    got = _decide(
        tmp_path,
        server="http://127.0.0.1:8000",
        code="123456789",
        link=join_link(OTHER, "222222222"),
        embedded=broken,
        installed=bad_installed,
    )
    assert got == Launch("http://127.0.0.1:8000", "123456789", "en", "", "command_line")


def test_an_allowed_link_beats_the_trailer_and_brings_its_code(tmp_path: Path) -> None:
    embedded = _copy(tmp_path, EmbeddedConfig(server=OTHER, code="111111111", language="es"))
    installed = _installed(tmp_path, "https://other.acme.example", SERVER)
    got = _decide(tmp_path, link=join_link(SERVER, "123456789"), embedded=embedded, installed=installed)
    assert got == Launch(SERVER, "123456789", "en", "ACME IT", "link")
    # --code replaces the link's code; a link without a code asks for one in the window
    replaced = _decide(tmp_path, link=join_link(SERVER, "123456789"), code="987654321", installed=installed)
    assert replaced.code == "987654321"
    assert _decide(tmp_path, link=join_link(SERVER), installed=installed).code is None


def test_the_trailer_gives_server_code_language_and_organization(tmp_path: Path) -> None:
    config = EmbeddedConfig(server=SERVER, organization="ACME IT", code="123-456-789", language="es")
    embedded = _copy(tmp_path, config)
    installed = _installed(tmp_path, OTHER, SERVER)
    assert _decide(tmp_path, embedded=embedded, installed=installed) == Launch(
        SERVER, "123456789", "es", "ACME IT", "embedded"
    )
    # --lang and --code win over the download's
    got = _decide(tmp_path, embedded=embedded, language="en", code="987654321")
    assert (got.language, got.code, got.server) == ("en", "987654321", SERVER)
    # no code and no language in the download: the window asks, in the system's language
    plain = _copy(tmp_path, EmbeddedConfig(server=SERVER), "plain")
    got = _decide(tmp_path, embedded=plain, system_language="es")
    assert (got.code, got.language, got.organization) == (None, "es", "")


def test_on_a_computer_it_configured_a_copy_for_another_server_is_refused(tmp_path: Path) -> None:
    """/etc/veo/agent.json is IT's list: a downloaded copy naming another server does not connect."""
    embedded = _copy(tmp_path, EmbeddedConfig(server=OTHER, code="123456789", language="es"))
    refused = _problem(tmp_path, embedded=embedded, installed=_installed(tmp_path, SERVER), language="en")
    assert refused.kind == "copy_refused"
    assert refused.message == (
        "This copy of veo connects to help.evil.example, which is not your organization's support "
        "server (support.acme.example). veo did not connect. Use the veo your IT department installed."
    )
    assert OTHER in refused.detail
    # the copy's language when none is asked for; without IT's file the copy connects as before
    assert _problem(tmp_path, embedded=embedded, installed=_installed(tmp_path, SERVER)).language == "es"
    assert _decide(tmp_path, embedded=embedded).server == OTHER
    # an IT file that cannot be read stops the copy too (it cannot say which servers are allowed)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert _problem(tmp_path, embedded=embedded, installed=broken).kind == "installed_invalid"


def test_installed_first_server_when_the_file_carries_nothing(tmp_path: Path) -> None:
    bare = _copy(tmp_path, None)  # the .deb's build: no trailer
    installed = _installed(tmp_path, SERVER, "https://other.acme.example")
    assert _decide(tmp_path, embedded=bare, installed=installed, code="123456789") == Launch(
        SERVER, "123456789", "en", "ACME IT", "installed"
    )
    assert _decide(tmp_path, installed=installed).source == "installed"  # not frozen: no file to read


def test_embedded_source_and_installed_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert embedded_source(None) is None
    assert embedded_source(str(tmp_path / "x")) == tmp_path / "x"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert embedded_source(None) == Path(sys.executable)
    monkeypatch.delenv(launch_mod.INSTALLED_CONFIG_ENV, raising=False)
    assert installed_config_path() == INSTALLED_CONFIG_PATH
    monkeypatch.setenv(launch_mod.INSTALLED_CONFIG_ENV, str(tmp_path / "agent.json"))
    assert installed_config_path() == tmp_path / "agent.json"


# ---------------------------------------------------------------- problems, each a sentence


def test_a_link_to_another_server_is_refused_naming_both(tmp_path: Path) -> None:
    installed = _installed(tmp_path, SERVER, "https://backup.acme.example:8443")
    refused = _problem(tmp_path, link=join_link(OTHER, "123456789"), installed=installed)
    assert refused.kind == "link_refused"
    assert refused.message == (
        "This link asks veo to connect to help.evil.example, which is not your organization's support "
        "server (support.acme.example, backup.acme.example:8443). veo did not connect."
    )
    # same host, another port or scheme: another server
    for near in ("https://support.acme.example:444", "http://support.acme.example"):
        assert _problem(tmp_path, link=join_link(near), installed=installed).kind == "link_refused"
    # no installed configuration at all: no link is followed
    nothing = _problem(tmp_path, link=join_link(SERVER, "123456789"))
    assert nothing.kind == "link_refused" and "no support server is configured" in nothing.message


def test_a_link_that_is_not_one_is_a_sentence(tmp_path: Path) -> None:
    installed = _installed(tmp_path, SERVER)
    for link in ("veo://join?code=123456789", "https://support.acme.example", "veo://join?server=x&code=12"):
        problem = _problem(tmp_path, link=link, installed=installed)
        assert problem.kind == "link_invalid" and "not a complete veo link" in problem.message


def test_a_cut_short_copy_says_download_it_again(tmp_path: Path) -> None:
    sealed = BUILD + seal(EmbeddedConfig(server=SERVER, code="123456789"))
    path = tmp_path / "cut"
    path.write_bytes(sealed[:-10])
    problem = _problem(tmp_path, embedded=path, installed=_installed(tmp_path, SERVER))
    assert problem.kind == "embedded_truncated"
    assert problem.message == (
        "This copy of veo is incomplete: download it again from your support department's page."
    )


def test_an_edited_copy_says_damaged(tmp_path: Path) -> None:
    sealed = seal(EmbeddedConfig(server=SERVER, code="123456789"))
    edited = tmp_path / "edited"
    edited.write_bytes(BUILD + sealed.replace(b"acme", b"acne"))  # checksum no longer matches
    problem = _problem(tmp_path, embedded=edited)
    assert problem.kind == "embedded_damaged" and "damaged or was changed" in problem.message
    assert "download it again" in problem.message


def test_unreadable_file_and_configuration(tmp_path: Path) -> None:
    missing = _problem(tmp_path, embedded=tmp_path / "gone")
    assert missing.kind == "embedded_unreadable" and str(tmp_path / "gone") in missing.message
    bad = tmp_path / "agent.json"
    bad.write_text('{"v": 1, "servers": []}')
    problem = _problem(tmp_path, installed=bad)
    assert problem.kind == "installed_invalid" and str(bad) in problem.message
    assert "reinstall" in problem.message


def test_no_server_anywhere(tmp_path: Path) -> None:
    problem = _problem(tmp_path, embedded=_copy(tmp_path, None))
    assert problem.kind == "no_server" and "support department's page" in problem.message


def test_problems_speak_the_chosen_language(tmp_path: Path) -> None:
    cut = tmp_path / "cut"
    cut.write_bytes(BUILD + seal(EmbeddedConfig(server=SERVER, language="en"))[:-3])
    for chosen, system, expected in ((None, "es", "es"), ("en", "es", "en"), ("es", "en", "es")):
        problem = _problem(tmp_path, embedded=cut, language=chosen, system_language=system)
        assert problem.language == expected
        assert problem.message == launch_mod.problem_text(gettext_for(expected).gettext, "embedded_truncated")


def test_server_label() -> None:
    assert server_label("https://support.acme.example") == "support.acme.example"
    assert server_label("https://support.acme.example:8443/veo/") == "support.acme.example:8443/veo"
    assert server_label("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    # a look-alike letter (Cyrillic "о") shows as the name TLS checks, not as "support.acme.example"
    assert server_label("https://supp\u043ert.acme.example") == "xn--supprt-zqf.acme.example"
    long = server_label("https://" + "a" * 200 + ".example")
    assert len(long) == launch_mod.LABEL_CHARS and long.endswith("…")


# ---------------------------------------------------------------- damaged trailers, any damage


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(min_value=0, max_value=400),
    flips=st.lists(st.tuples(st.integers(min_value=1, max_value=400), st.integers(1, 255)), max_size=3),
    code=st.sampled_from(["", "123456789"]),
)
def test_any_cut_or_flip_is_a_problem_or_nothing(
    tmp_path: Path, cut: int, flips: list[tuple[int, int]], code: str
) -> None:
    data = bytearray(BUILD + seal(EmbeddedConfig(server=SERVER, organization="ACME IT", code=code)))
    for back, mask in flips:
        data[-back] ^= mask
    if cut:
        del data[-cut:]
    path = tmp_path / "damaged"
    path.write_bytes(bytes(data))
    try:
        found = read_embedded(path)
    except AgentConfigError:
        found = None
    else:
        assert found is None or found.server.startswith(("https://", "http://"))
    try:
        got = _decide(tmp_path, embedded=path)
    except LaunchProblem as problem:
        assert problem.message and "Traceback" not in problem.message
    else:
        assert got.source == "embedded" and found is not None and got.server == found.server


@settings(max_examples=300, deadline=None)
@given(junk=st.binary(max_size=600), where=st.sampled_from(["after_start", "before_end", "between"]))
def test_any_bytes_around_the_markers_are_a_problem_or_nothing(junk: bytes, where: str) -> None:
    tail = {
        "after_start": START + junk,
        "before_end": junk + END,
        "between": START + junk + END,
    }[where]
    try:
        found = unseal_tail(BUILD + tail)
    except AgentConfigError as exc:
        assert exc.problem in ("truncated", "tampered", "invalid")
    else:
        assert found is None or isinstance(found, EmbeddedConfig)


# ---------------------------------------------------------------- the command


def test_command_says_a_problem_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISPLAY", "")  # no window can open: the terminal and the log still say it
    monkeypatch.setenv(launch_mod.INSTALLED_CONFIG_ENV, str(tmp_path / "none.json"))
    cut = tmp_path / "cut"
    cut.write_bytes(BUILD + seal(EmbeddedConfig(server=SERVER))[:-4])
    log = tmp_path / "agent.log"
    assert main(["--embedded-from", str(cut), "--lang", "en", "--log-file", str(log)]) == 2
    err = capsys.readouterr().err
    assert "veo agent: This copy of veo is incomplete" in err and "Traceback" not in err
    assert "cannot start (embedded_truncated): This copy of veo is incomplete" in log.read_text()
    # a link to another server, from the browser
    _installed(tmp_path, SERVER)
    monkeypatch.setenv(launch_mod.INSTALLED_CONFIG_ENV, str(tmp_path / "agent.json"))
    assert main([join_link(OTHER, "123456789"), "--lang", "en", "--log-file", str(log)]) == 2
    err = capsys.readouterr().err
    assert "connect to help.evil.example, which is not your organization's" in err and "Traceback" not in err


def test_command_from_a_terminal_without_a_server_shows_the_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(launch_mod.INSTALLED_CONFIG_ENV, str(tmp_path / "none.json"))
    monkeypatch.delattr(sys, "frozen", raising=False)
    with pytest.raises(SystemExit) as usage:
        main(["--lang", "en"])
    assert usage.value.code == 2 and "--server is required" in capsys.readouterr().err


def test_command_refuses_a_plain_http_address_from_a_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISPLAY", "")
    copy = _copy(tmp_path, EmbeddedConfig(server="http://support.acme.example"))
    assert main(["--embedded-from", str(copy), "--lang", "en", "--log-file", str(tmp_path / "a.log")]) == 2
    err = capsys.readouterr().err
    assert "Refusing the unencrypted address" in err and "Traceback" not in err
