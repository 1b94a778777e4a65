"""The agent's trust decision: system store or ``--ca-file``, host names always checked."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_agent_tls import self_signed

from veo.agent import rating
from veo.agent.main import main
from veo.agent.signaling import ConnectError
from veo.agent.tls import CaFileError, client_context, is_untrusted_certificate


def test_default_context_verifies_chain_and_host_name() -> None:
    context = client_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_ca_file_context_trusts_only_that_file(tmp_path: Path) -> None:
    cert, _key = self_signed(tmp_path, ["localhost"])
    context = client_context(str(cert))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509"] == 1  # not the system's store as well


@pytest.mark.parametrize("content", [None, b"", b"not a certificate\n"])
def test_unusable_ca_file_is_refused_clearly(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CaFileError, match=r"ca\.pem"):
        client_context(str(path))


def test_command_refuses_an_unusable_ca_file_from_the_flag_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--server", "https://support.example", "--code", "123456789", "--lang", "en"]
    assert main([*argv, "--ca-file", str(tmp_path / "missing.pem")]) == 2
    assert "missing.pem" in capsys.readouterr().err
    monkeypatch.setenv("VEO_AGENT_CA_FILE", str(tmp_path / "from-env.pem"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "from-env.pem" in err and "does not exist" in err and "Traceback" not in err


def test_untrusted_is_recognized_through_the_cause_chain() -> None:
    verification = ssl.SSLCertVerificationError(1, "certificate verify failed")
    wrapped = OSError("connect failed")
    wrapped.__cause__ = verification
    assert is_untrusted_certificate(verification) and is_untrusted_certificate(wrapped)
    assert not is_untrusted_certificate(ConnectionRefusedError(111, "refused"))
    assert not is_untrusted_certificate(ssl.SSLError(1, "wrong version number"))


def test_untrusted_connect_error_text_names_the_certificate() -> None:
    from veo.agent.app import connect_error_text

    english = connect_error_text("en", ConnectError("x", untrusted=True))
    assert "certificate is not trusted" in english and "sent nothing" in english
    spanish = connect_error_text("es", ConnectError("x", untrusted=True))
    assert spanish != english and "certificado" in spanish
    assert "Could not reach" in connect_error_text("en", ConnectError("x"))


async def test_rating_uses_the_same_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    class Response:
        status = 200

        def __enter__(self) -> Response:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def urlopen(request: Any, timeout: float, context: ssl.SSLContext | None = None) -> Response:
        seen.append((request.full_url, context))
        return Response()

    monkeypatch.setattr(rating.urllib.request, "urlopen", urlopen)
    context = client_context()
    assert await rating.send_rating("wss://support.example/ws/agent", "s1", "t", 5, "", context)
    assert seen == [("https://support.example/api/v1/sessions/s1/rating", context)]
