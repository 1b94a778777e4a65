"""The compose file's proxy, run: HAProxy with ``deploy/haproxy/haproxy.cfg`` and ``tls.cfg``
unchanged, in front of a real ``veo server``, all on loopback.

What compose cannot show here (no Docker daemon), HAProxy can: plain HTTP only redirects to
HTTPS, HTTPS reaches a ready node, a WebSocket upgrade goes through TLS to veo and veo's close
frame comes back, and ``veo doctor`` finds the certificate and the public URL in order. Node 2
and 3 point at closed ports: HAProxy checks them, finds them down, and serves from node 1.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from tests.integration.test_doctor import certificate, doctor, free_port, stop
from tests.sqlite_template import migrated_sqlite

pytestmark = pytest.mark.timeout(120)

HAPROXY = Path(__file__).resolve().parents[2] / "deploy" / "haproxy"


@dataclass
class Proxied:
    https: str
    http: str
    ca_file: Path
    env: dict[str, str]


def wait_until(what: str, ready: object, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while not ready():  # type: ignore[operator]
        assert proc.poll() is None, f"{what} exited:\n{log.read_text(errors='replace')[-3000:]}"
        assert time.monotonic() < deadline, f"{what} not ready:\n{log.read_text(errors='replace')[-3000:]}"
        time.sleep(0.2)


def answers(url: str, verify: ssl.SSLContext | bool = False) -> bool:
    try:
        return httpx.get(url, verify=verify, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    if shutil.which("haproxy") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("haproxy is missing (make system-packages)", pytrace=False)
        pytest.skip("needs haproxy (make system-packages)")
    work = tmp_path_factory.mktemp("proxy")
    cert, key = certificate(work, days=90)
    pem = work / "veo.pem"
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    node_port, https_port, http_port, plain_port = free_port(), free_port(), free_port(), free_port()
    public = f"https://localhost:{https_port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VEO_")},
        "VEO_DATA_DIR": str(work / "data"),
        "VEO_DATABASE_URL": migrated_sqlite(work / "veo.db"),
        "VEO_PUBLIC_URL": public,
        "VEO_TRUSTED_PROXIES": "127.0.0.1",
        "LANG": "C.UTF-8",
    }
    node_log = work / "node.log"
    with node_log.open("wb") as log:
        node = subprocess.Popen(
            [sys.executable, "-m", "veo", "server", "--port", str(node_port)], env=env, stdout=log, stderr=log
        )
    proxy_env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin"),
        "VEO_PROXY_BIND": f"127.0.0.1:{plain_port}",
        "VEO_NODE1": f"127.0.0.1:{node_port}",
        "VEO_NODE2": f"127.0.0.1:{free_port()}",
        "VEO_NODE3": f"127.0.0.1:{free_port()}",
        "VEO_TLS_CERT": str(pem),
        "VEO_HTTPS_BIND": f"127.0.0.1:{https_port}",
        "VEO_HTTP_BIND": f"127.0.0.1:{http_port}",
    }
    proxy_log = work / "haproxy.log"
    with proxy_log.open("wb") as log:
        proxy = subprocess.Popen(
            ["haproxy", "-db", "-f", str(HAPROXY / "haproxy.cfg"), "-f", str(HAPROXY / "tls.cfg")],
            env=proxy_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until("veo server", lambda: answers(f"http://127.0.0.1:{node_port}/readyz"), node, node_log)
        trusted = ssl.create_default_context(cafile=str(cert))
        wait_until("HAProxy", lambda: answers(f"{public}/readyz", trusted), proxy, proxy_log)
        yield Proxied(public, f"http://127.0.0.1:{http_port}", cert, env)
    finally:
        stop(proxy)
        stop(node)


def test_plain_http_only_redirects_to_https(proxied: Proxied) -> None:
    response = httpx.get(f"{proxied.http}/login?next=%2F", follow_redirects=False, timeout=5)
    assert response.status_code == 301
    assert (
        response.headers["location"] == f"https://127.0.0.1:{proxied.http.rsplit(':', 1)[1]}/login?next=%2F"
    )
    assert response.content == b""  # nothing of veo's answered in clear


def test_https_reaches_a_ready_node_with_the_certificate_checked(proxied: Proxied) -> None:
    trusted = ssl.create_default_context(cafile=str(proxied.ca_file))
    response = httpx.get(f"{proxied.https}/readyz", verify=trusted, timeout=5)
    assert response.status_code == 200 and response.json() == {"status": "ready"}
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{proxied.https}/readyz", timeout=5)  # the system's CAs do not know it


async def test_a_websocket_goes_through_tls_to_veo_and_back(proxied: Proxied) -> None:
    """veo accepts the console socket, then closes it 4401 (no sign-in): both ways through TLS."""
    trusted = ssl.create_default_context(cafile=str(proxied.ca_file))
    url = proxied.https.replace("https://", "wss://") + "/ws/console?session=none"
    async with websockets.connect(url, ssl=trusted) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_the_doctor_finds_the_certificate_and_the_public_url_in_order(proxied: Proxied) -> None:
    _status, found, text = doctor(proxied.env, "--ca-file", str(proxied.ca_file))
    assert found["certificate"]["status"] == "ok", text
    assert found["certificate"]["message"].startswith("valid for localhost until "), text
    assert found["public URL"]["message"] == f"{proxied.https}/readyz answers: ready.", text
