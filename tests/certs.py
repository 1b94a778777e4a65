"""Self-signed server certificates for the tests' TLS listeners (agent, doctor, coturn's turns:).

One maker, so that every test's certificate is built the same way: its own CA (ca=True), the
names and addresses as subject alternative names, server authentication, an EC P-256 key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def write_self_signed(
    cert_path: Path, key_path: Path, names: Sequence[str] = (), ips: Sequence[str] = (), *, days: int = 1
) -> tuple[Path, Path]:
    """A certificate for ``names`` (DNS) and ``ips`` valid ``days`` more days, and its key, written
    as PEM to the two paths (which are returned). The common name is the first name or address."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, [*names, *ips][0])])
    now = dt.datetime.now(dt.UTC)
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    alt += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def self_signed(folder: Path, names: list[str], ips: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """A self-signed server certificate (its own CA) for ``names``/``ips``: (cert.pem, key.pem)."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_self_signed(folder / f"{names[0]}.pem", folder / f"{names[0]}.key", names, ips)
