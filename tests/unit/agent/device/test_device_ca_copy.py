"""The CA file IT named at enrolment is copied into the state directory, and only the copy is
trusted from then on (review R1-11): the path IT typed may be in a user's home, where that user
could later swap the file for an authority of their own."""

from __future__ import annotations

import datetime
import os
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from veo.agent.device import enrol as enrol_module
from veo.agent.device import state
from veo.agent.device.enrol import EnrolError, EnrolInput, enrol
from veo.protocol.device import EnrolRequest, EnrolResponse


def authority(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def answer(policy: str = "ask") -> EnrolResponse:
    return EnrolResponse(
        device_id="c" * 32, device_name="pc", organization="ACME", group="Reception", policy=policy,  # type: ignore[arg-type]
        unattended=False, enrolled_by="Ana Admin", enrolled_at="2026-12-07T10:00:00+00:00",
    )  # fmt: skip


def test_the_ca_file_is_copied_and_the_copy_is_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    typed = home / "corp-ca.pem"
    original = authority("Corp CA")
    typed.write_bytes(original)
    seen: list[ssl.SSLContext | None] = []

    def post(url: str, body: bytes, tls: ssl.SSLContext | None, language: str) -> tuple[int, bytes]:
        EnrolRequest.model_validate_json(body)
        seen.append(tls)
        return 201, answer().model_dump_json().encode()

    monkeypatch.setattr(enrol_module, "_post", post)
    directory = tmp_path / "state"
    enrol(
        EnrolInput(
            server="https://support.example", token="veo-enrol-" + "a" * 32, name="pc", directory=directory,
            ca_file=str(typed), language="en",
        )
    )  # fmt: skip
    config = state.read_config(directory)
    assert config is not None
    copy = directory / state.CA_NAME
    assert config.ca_file == str(copy.resolve())  # never the path IT typed
    assert copy.read_bytes() == original
    info = os.stat(copy)
    assert stat.S_IMODE(info.st_mode) == 0o644 and info.st_uid == os.getuid()
    # the enrolment itself trusted that authority (a TLS context with only it)
    (tls,) = seen
    assert tls is not None and tls.cert_store_stats()["x509"] == 1
    # the user swaps "their" file: the device still trusts what IT gave
    typed.write_bytes(authority("Mallory CA"))
    assert copy.read_bytes() == original
    assert config.told() == "ask"  # and what the person was told is written down
    # forgetting the enrolment removes the copy too
    state.forget(directory)
    assert not copy.exists()


def test_a_huge_ca_file_is_refused_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "bundle.pem"
    pem = authority("Big CA")
    big.write_bytes(pem * (state.CA_MAX_BYTES // len(pem) + 2))

    def post(*args: object) -> tuple[int, bytes]:
        raise AssertionError("nothing may be sent")

    monkeypatch.setattr(enrol_module, "_post", post)
    with pytest.raises(EnrolError, match="larger than 1 MiB") as refused:
        enrol(
            EnrolInput(
                server="https://support.example", token="veo-enrol-" + "a" * 32, name="pc",
                directory=tmp_path / "state", ca_file=str(big), language="en",
            )
        )  # fmt: skip
    assert refused.value.code == 2
    assert not (tmp_path / "state" / state.KEY_NAME).exists()
