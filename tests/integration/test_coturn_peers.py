"""The shipped deploy/turnserver.conf against the CVE-2026-27624 path, with the real coturn.

coturn before 4.9.0 checks an IPv4-mapped IPv6 peer (``::ffff:127.0.0.1``) neither against the
IPv4 ``denied-peer-ip`` ranges nor against its loopback check. The shipped file also denies
``::ffff:0.0.0.0-::ffff:255.255.255.255`` as an IPv6 range, which coturn compares as IPv6. Here a
TURN client with valid REST credentials allocates an IPv6 relay (the only kind that can reach a
mapped address) and asks coturn for permission to relay to mapped loopback, mapped private and
mapped metadata-service addresses: refused (403). A public IPv6 peer is accepted (the test is not
refusing everything), and, on a coturn older than 4.9.0, the same file without the mapped range
lets ``::ffff:127.0.0.1`` through: the bypass the range closes.

Runs coturn inside a private network namespace (root); skipped without root or ``turnserver``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aioice import stun
from aioice.turn import TurnClientUdpProtocol
from tests.coturn_process import launch, stop
from tests.netns import enter_netns, private_netns

pytestmark = pytest.mark.timeout(120)

CONF = Path(__file__).resolve().parents[2] / "deploy" / "turnserver.conf"
RELAY_V6 = "fd00:96::1"
PORT = 3478
MAPPED_RANGE = "denied-peer-ip=::ffff:0.0.0.0-::ffff:255.255.255.255"
REFUSED = ["::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::1"]
PUBLIC = "2606:4700::1111"
#: RFC 6156: asks for an IPv6 relayed address (not in aioice's table of attributes).
REQUESTED_ADDRESS_FAMILY = (0x0017, "REQUESTED-ADDRESS-FAMILY", stun.pack_unsigned, stun.unpack_unsigned)


def coturn_version() -> tuple[int, ...]:
    out = subprocess.run(["turnserver", "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    assert match, out
    return tuple(int(part) for part in match.groups())


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and ip to make a network namespace")
    if shutil.which("turnserver") is None:
        if os.environ.get("CI", "").lower() == "true":  # make test installs it first
            pytest.fail("coturn's turnserver is missing (make system-packages)", pytrace=False)
        pytest.skip("needs coturn's turnserver (make system-packages)")
    with private_netns("veo-coturn", "10.96.0") as name:
        subprocess.run(["ip", "-n", name, "addr", "add", f"{RELAY_V6}/128", "dev", "lo", "nodad"], check=True)
        yield name


def configuration(secret: str, workdir: Path, keep_mapped_range: bool) -> str:
    """The shipped file with this test's addresses and secret; TLS off (no certificate here)."""
    overridden = ("listening-ip", "relay-ip", "static-auth-secret", "realm", "cert", "pkey", "syslog",
                  "proc-user", "proc-group", "tls-listening-port")  # fmt: skip
    lines = []
    for line in CONF.read_text().splitlines():
        name = line.split("=", 1)[0].strip()
        if name in overridden or (line.strip() == MAPPED_RANGE and not keep_mapped_range):
            continue
        lines.append(line)
    return "\n".join(
        [
            *lines,
            "listening-ip=127.0.0.1",
            f"relay-ip={RELAY_V6}",
            f"static-auth-secret={secret}",
            "realm=veo.test",
            "no-tls",
            f"log-file={workdir / 'turn.log'}",
            f"pidfile={workdir / 'turn.pid'}",
            f"userdb={workdir / 'turndb'}",
            "",
        ]
    )


def in_namespace(name: str, coroutine_factory: object) -> object:
    """Run ``asyncio.run(coroutine_factory())`` on a thread inside the namespace; return its result."""
    result: dict[str, object] = {}

    def run() -> None:
        try:
            enter_netns(name)
            result["value"] = asyncio.run(coroutine_factory())  # type: ignore[operator]
        except BaseException as exc:  # handed to the test thread
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result.get("value")


async def permissions(secret: str, peers: list[str]) -> dict[str, str]:
    """Allocate an IPv6 relay with REST credentials, then CreatePermission for each peer."""
    username = f"{int(time.time()) + 600}:test-session.agent"
    password = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    loop = asyncio.get_running_loop()
    server = ("127.0.0.1", PORT)
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: TurnClientUdpProtocol(
            server, username=username, password=password, lifetime=600, channel_refresh_time=500
        ),
        remote_addr=server,
    )
    try:
        allocate = stun.Message(message_method=stun.Method.ALLOCATE, message_class=stun.Class.REQUEST)
        allocate.attributes["LIFETIME"] = 600
        allocate.attributes["REQUESTED-TRANSPORT"] = 17 << 24  # UDP
        allocate.attributes["REQUESTED-ADDRESS-FAMILY"] = 0x02 << 24  # IPv6
        response, _ = await protocol.request_with_retry(allocate)
        outcome = {"relayed": str(response.attributes["XOR-RELAYED-ADDRESS"][0])}
        for peer in peers:
            request = stun.Message(
                message_method=stun.Method.CREATE_PERMISSION, message_class=stun.Class.REQUEST
            )
            request.attributes["XOR-PEER-ADDRESS"] = (peer, 9)
            try:
                await protocol.request(request)
                outcome[peer] = "allowed"
            except stun.TransactionFailed as exc:
                outcome[peer] = str(exc.response.attributes["ERROR-CODE"][0])
        return outcome
    finally:
        transport.close()


def run_coturn(namespace: str, tmp_path: Path, keep_mapped_range: bool, peers: list[str]) -> dict[str, str]:
    secret = secrets.token_hex(32)
    conf = tmp_path / "turnserver.conf"
    conf.write_text(configuration(secret, tmp_path, keep_mapped_range))
    proc = launch(["ip", "netns", "exec", namespace, "turnserver", "-c", str(conf)], tmp_path)
    try:
        time.sleep(0.3)
        stun.ATTRIBUTES_BY_NAME["REQUESTED-ADDRESS-FAMILY"] = REQUESTED_ADDRESS_FAMILY
        stun.ATTRIBUTES_BY_TYPE[0x0017] = REQUESTED_ADDRESS_FAMILY
        try:
            outcome = in_namespace(namespace, lambda: permissions(secret, peers))
        finally:
            stun.ATTRIBUTES_BY_NAME.pop("REQUESTED-ADDRESS-FAMILY", None)
            stun.ATTRIBUTES_BY_TYPE.pop(0x0017, None)
        assert isinstance(outcome, dict)
        return outcome
    finally:
        stop(proc)


def test_mapped_and_loopback_peers_are_refused_public_ones_are_not(namespace: str, tmp_path: Path) -> None:
    outcome = run_coturn(namespace, tmp_path, keep_mapped_range=True, peers=[*REFUSED, PUBLIC])
    assert outcome["relayed"] == RELAY_V6, outcome
    assert {peer: outcome[peer] for peer in REFUSED} == dict.fromkeys(REFUSED, "403"), outcome
    assert outcome[PUBLIC] == "allowed", outcome


def test_without_the_mapped_range_old_coturn_relays_to_loopback(namespace: str, tmp_path: Path) -> None:
    """What the range closes: on coturn < 4.9.0 the IPv4 ranges alone let ::ffff:127.0.0.1 in."""
    outcome = run_coturn(namespace, tmp_path, keep_mapped_range=False, peers=["::ffff:127.0.0.1"])
    if coturn_version() >= (4, 9, 0):
        assert outcome["::ffff:127.0.0.1"] == "403", outcome  # fixed in coturn itself
    else:
        assert outcome["::ffff:127.0.0.1"] == "allowed", outcome  # CVE-2026-27624
