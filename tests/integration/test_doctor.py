"""``veo doctor`` against real parts on loopback: a healthy set-up, then each thing broken.

The healthy set-up is a ``veo server`` process (SQLite, a redis-server of this module's own, a
TURN relay), coturn started here from the shipped ``deploy/turnserver.conf`` (only addresses,
port, secret and files changed; TLS off, there is no certificate); the node's own heartbeat is
the one the doctor lists, and more nodes' heartbeats, one with its clock off, are written under
a key prefix of the test's own. Then the doctor runs with a
wrong Redis URL, a wrong TURN secret, an unreachable database and a data directory without its
signing key (or with another node's), and must name each problem in a sentence, in English and
in Spanish, and exit 1. The certificate checks use a TLS listener with a certificate made here.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from tests.certs import write_self_signed
from tests.coturn_process import launch, stop
from tests.sqlite_template import migrated_sqlite

from veo import __version__
from veo.server.doctor import public_url
from veo.server.doctor.turn import parse_version, tls_context
from veo.server.sessions.liveness import HEARTBEAT_TTL_SECONDS, heartbeat

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONF = ROOT / "deploy" / "turnserver.conf"
#: What this test's coturn sets itself; the rest of the shipped file stays as it is.
OVERRIDDEN = {"listening-ip", "relay-ip", "listening-port", "tls-listening-port", "static-auth-secret",
              "realm", "cert", "pkey", "syslog", "proc-user", "proc-group"}  # fmt: skip


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (coturn listens on both)."""
    for _attempt in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise AssertionError("no port free for TCP and UDP")


@dataclass
class Coturn:
    port: int
    secret: str


def coturn_configuration(
    port: int, secret: str, workdir: Path, software: bool, tls: tuple[int, Path, Path] | None = None
) -> str:
    """The shipped file with this test's addresses; ``tls``: (turns: port, certificate, key)."""
    kept = []
    for line in SHIPPED_CONF.read_text().splitlines():
        name = line.split("=", 1)[0].strip()
        if name in OVERRIDDEN or (software and name == "no-software-attribute"):
            continue
        kept.append(line)
    own = ["listening-ip=127.0.0.1", "relay-ip=127.0.0.1", f"listening-port={port}",
           f"static-auth-secret={secret}", "realm=veo.test", f"log-file={workdir / 'turn.log'}",
           f"pidfile={workdir / 'turn.pid'}", f"userdb={workdir / 'turndb'}"]  # fmt: skip
    if tls is None:
        own.append("no-tls")
    else:
        own += [f"tls-listening-port={tls[0]}", f"cert={tls[1]}", f"pkey={tls[2]}"]
    return "\n".join([*kept, *own, ""])


def start_coturn(
    workdir: Path, software: bool = False, tls: tuple[int, Path, Path] | None = None
) -> tuple[subprocess.Popen[bytes], Coturn]:
    if shutil.which("turnserver") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("coturn's turnserver is missing (make system-packages)", pytrace=False)
        pytest.skip("needs coturn's turnserver (make system-packages)")
    workdir.mkdir(parents=True, exist_ok=True)
    turn = Coturn(free_port(), secrets.token_hex(32))
    conf = workdir / "turnserver.conf"
    conf.write_text(coturn_configuration(turn.port, turn.secret, workdir, software, tls))
    return launch(["turnserver", "-c", str(conf)], workdir), turn


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("doctor")


@pytest.fixture(scope="module")
def redis_url(workdir: Path) -> Iterator[str]:
    """A redis-server of this module's own: the node's heartbeat and the test's are all it holds."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("needs redis-server (make system-packages)")
    port = free_port()
    folder = workdir / "redis"
    folder.mkdir()
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.1)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def coturn(workdir: Path) -> Iterator[Coturn]:
    proc, turn = start_coturn(workdir / "coturn")
    try:
        yield turn
    finally:
        stop(proc)


def turn_urls(port: int) -> str:
    return json.dumps([f"stun:127.0.0.1:{port}", f"turn:127.0.0.1:{port}",
                       f"turn:127.0.0.1:{port}?transport=tcp"])  # fmt: skip


def audited(url: str, data: Path) -> None:
    """One audit event, signed as a node signs it: the data directory gets its signing key."""
    from veo.server.audit import checkpoints, keys
    from veo.server.audit.service import record
    from veo.server.db.engine import Database

    db = Database(url)
    checkpoints.configure(db, checkpoints.Signer(key_directory=keys.key_dir(data)))
    try:
        with db.session() as s:
            record(s, "doctor.test", actor="test")
    finally:
        checkpoints.configure(db, None)
        db.dispose()
    assert (keys.key_dir(data) / keys.PRIVATE_NAME).exists()


@pytest.fixture(scope="module")
def node_env(workdir: Path, coturn: Coturn, redis_url: str) -> Iterator[dict[str, str]]:
    """A running ``veo server`` and the environment it runs with (what the doctor is given)."""
    port = free_port()
    data = workdir / "data"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VEO_")},
        "VEO_DATA_DIR": str(data),
        "VEO_DATABASE_URL": migrated_sqlite(workdir / "veo.db"),
        "VEO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "VEO_REDIS_URL": redis_url,
        "VEO_TURN_URLS": turn_urls(coturn.port),
        "VEO_TURN_SECRET": coturn.secret,
        "LANG": "C.UTF-8",
    }
    audited(env["VEO_DATABASE_URL"], data)
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "veo", "server", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    log.close()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (workdir / "server.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (workdir / "server.log").read_text()
            time.sleep(0.2)
        yield env
    finally:
        stop(proc)


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own, with two fresh heartbeats under it as nodes write them."""
    name = f"veo-doctor-{secrets.token_hex(4)}:"
    client = redis.Redis.from_url(redis_url)
    for node, host in (("a1a1", "node-one"), ("b2b2", "node-two")):
        client.set(f"{name}node:{node}", beat(node, host, time.time()), ex=HEARTBEAT_TTL_SECONDS)
    try:
        yield name
    finally:
        for key in client.scan_iter(match=f"{name}*"):
            client.delete(key)


def beat(node: str, host: str, now: float) -> str:
    """A node's heartbeat (``liveness.heartbeat``) that names another host."""
    document = json.loads(heartbeat(node, now - 60, now))
    return json.dumps({**document, "host": host})


def doctor(env: dict[str, str], *args: str, lang: str = "en") -> tuple[int, dict[str, dict[str, str]], str]:
    """Run ``veo doctor`` as the operator would; (exit status, findings by check, text output).

    The JSON and the text run go at once (two processes, as two operators could): each is mostly
    the start-up of a Python process and waits on the network, and neither writes anything."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        json_run = pool.submit(
            subprocess.run,
            [sys.executable, "-m", "veo", "doctor", "--json", "--lang", lang, *args],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        text_run = pool.submit(
            subprocess.run,
            [sys.executable, "-m", "veo", "doctor", "--lang", lang, *args],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        as_json, as_text = json_run.result(), text_run.result()
    assert as_json.returncode == as_text.returncode, (as_json.stderr, as_text.stderr)
    report = json.loads(as_json.stdout)
    assert report["ok"] is (as_json.returncode == 0)
    by_check: dict[str, dict[str, str]] = {}
    for item in report["checks"]:
        by_check.setdefault(item["check"], item)  # "keys" repeats; the tests read it from the text
    return as_json.returncode, by_check, as_text.stdout


def test_a_healthy_set_up_is_all_ok(node_env: dict[str, str]) -> None:
    status, found, text = doctor(node_env)
    assert status == 0, text
    wrong = {check: item for check, item in found.items() if item["status"] not in ("ok", "info")}
    assert wrong == {}, text
    assert found["database"]["status"] == found["migrations"]["status"] == "ok", text
    # the running node's own heartbeat
    assert found["nodes"]["message"].startswith("1 node running: "), text
    assert f"({socket.gethostname()}, veo {__version__})." in found["nodes"]["message"], text
    assert found["node clocks"]["status"] == "ok", text
    for url in json.loads(node_env["VEO_TURN_URLS"]):
        assert found[f"turn {url}"]["status"] == "ok", text
    # the shipped file hides coturn's version: said, not a problem
    assert found["coturn version"]["status"] == "info", text
    assert found["public URL"]["message"].endswith("answers: ready."), text
    assert found["audit key"]["status"] == "ok", text
    assert "signed the newest checkpoint" in found["audit key"]["message"], text
    assert len(text.splitlines()) == len(found) + 1, text  # one line per check ("keys" twice)


@pytest.fixture
def broken_env(node_env: dict[str, str], workdir: Path, tmp_path: Path) -> dict[str, str]:
    """The node's environment with four things wrong: Redis, TURN secret, database, signing key."""
    data = tmp_path / "data"
    shutil.copytree(node_env["VEO_DATA_DIR"], data)
    (data / "audit" / "audit_ed25519.pem").unlink()
    return {
        **node_env,
        "VEO_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "VEO_TURN_SECRET": "not-" + secrets.token_hex(8),
        "VEO_DATABASE_URL": f"postgresql+psycopg://veo:pw-{secrets.token_hex(8)}@127.0.0.1:{free_port()}/veo",
        "VEO_DATA_DIR": str(data),
    }


def test_each_problem_is_named_and_the_exit_status_says_so(broken_env: dict[str, str]) -> None:
    status, found, text = doctor(broken_env)
    assert status == 1, text
    assert found["database"]["status"] == "fail"
    assert "cannot reach the database postgresql+psycopg://veo:***@127.0.0.1:" in text
    # no secret of the settings is printed, in either form
    password = broken_env["VEO_DATABASE_URL"].split(":")[2].split("@")[0]
    for secret in (password, broken_env["VEO_TURN_SECRET"]):
        assert secret not in text and secret not in json.dumps(found), secret
    assert "cannot reach Redis at redis://127.0.0.1:" in found["redis"]["message"]
    turn_url = json.loads(broken_env["VEO_TURN_URLS"])[1]
    assert found[f"turn {turn_url}"]["message"] == "the TURN server refused veo's credentials (401).", text
    assert "VEO_TURN_SECRET equal to static-auth-secret" in found[f"turn {turn_url}"]["advice"]
    assert found["audit key"]["status"] == "fail"
    assert "the audit signing key" in found["audit key"]["message"], text
    assert found["audit key"]["message"].endswith("audit_ed25519.pem is missing."), text
    # every problem line says what to do
    for line in text.splitlines():
        if line.startswith(("[PROBLEM]", "[WARNING]")):
            assert "What to do: " in line, line


def test_the_same_problems_in_spanish(broken_env: dict[str, str]) -> None:
    status, found, text = doctor(broken_env, lang="es")
    assert status == 1, text
    assert "no se puede conectar con la base de datos postgresql+psycopg://veo:***@127.0.0.1:" in text, text
    assert "no se puede conectar con Redis en redis://127.0.0.1:" in found["redis"]["message"], text
    turn_url = json.loads(broken_env["VEO_TURN_URLS"])[1]
    assert found[f"turn {turn_url}"]["message"] == (
        "el servidor TURN rechazó las credenciales de veo (401)."
    ), text
    assert "falta la clave de firma de la auditoría" in found["audit key"]["message"], text
    assert text.splitlines()[0].startswith("[PROBLEMA]"), text
    assert "Qué hacer: " in text, text


def test_a_node_with_another_signing_key_is_named(node_env: dict[str, str], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = tmp_path / "data"
    shutil.copytree(node_env["VEO_DATA_DIR"], data)
    other = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (data / "audit" / "audit_ed25519.pem").write_bytes(other)
    status, found, text = doctor({**node_env, "VEO_DATA_DIR": str(data)})
    assert status == 1, text
    assert found["audit key"]["status"] == "fail", text
    assert "did not sign the newest checkpoint" in found["audit key"]["message"], text
    assert "the nodes do not share one key" in found["audit key"]["message"], text


def test_nodes_are_listed_and_one_whose_clock_is_off_is_named(node_env: dict[str, str], prefix: str) -> None:
    status, found, text = doctor(node_env, "--redis-prefix", prefix)
    assert status == 0, text
    assert found["nodes"]["message"].startswith("2 nodes running: a1a1 (node-one, veo "), text
    assert found["node clocks"]["status"] == "ok", text
    client = redis.Redis.from_url(node_env["VEO_REDIS_URL"])
    client.set(f"{prefix}node:c3c3", beat("c3c3", "node-late", time.time() - 30), ex=HEARTBEAT_TTL_SECONDS)
    status, found, text = doctor(node_env, "--redis-prefix", prefix)
    assert status == 1, text
    assert found["nodes"]["message"].startswith("3 nodes running: "), text
    assert found["node c3c3"]["status"] == "warn", text
    assert "the clock of node-late is -30." in found["node c3c3"]["message"], text
    assert "node clocks" not in found, text


def test_an_old_coturn_that_names_itself_is_reported(node_env: dict[str, str], tmp_path: Path) -> None:
    proc, turn = start_coturn(tmp_path / "coturn", software=True)
    try:
        env = {**node_env, "VEO_TURN_URLS": turn_urls(turn.port), "VEO_TURN_SECRET": turn.secret}
        _status, found, text = doctor(env)
    finally:
        stop(proc)
    version = subprocess.run(["turnserver", "--version"], capture_output=True, text=True, check=False).stdout
    named = parse_version("Coturn-" + version.strip())
    assert named is not None, version
    if named < (4, 9, 0):
        assert found["coturn version"]["status"] == "warn", text
        assert "older than 4.9.0 (CVE-2026-27624" in found["coturn version"]["message"], text
    else:
        assert found["coturn version"]["status"] == "ok", text
    assert ".".join(map(str, named)) in found["coturn version"]["message"], text


def test_turns_is_checked_with_its_certificate(node_env: dict[str, str], tmp_path: Path) -> None:
    """A real TLS Allocate: accepted with the operator's CA file, refused by the system's CAs."""
    cert, key = certificate(tmp_path, days=90)
    tls_port = free_port()
    proc, turn = start_coturn(tmp_path / "coturn", tls=(tls_port, cert, key))
    url = f"turns:localhost:{tls_port}?transport=tcp"
    env = {**node_env, "VEO_TURN_URLS": json.dumps([url]), "VEO_TURN_SECRET": turn.secret}
    try:
        _status, trusted, text = doctor(env, "--ca-file", str(cert))
        _status, untrusted, text_untrusted = doctor(env)
    finally:
        stop(proc)
    assert trusted[f"turn {url}"]["status"] == "ok", text
    assert trusted[f"turn {url}"]["message"] == "answers and accepts veo's credentials.", text
    assert untrusted[f"turn {url}"]["status"] == "fail", text_untrusted
    assert untrusted[f"turn {url}"]["message"] == (
        f"the TLS certificate of localhost:{tls_port} is not valid: self-signed certificate"
    ), text_untrusted


# ---------------------------------------------------------------- the public URL's certificate


def certificate(tmp_path: Path, days: int) -> tuple[Path, Path]:
    """A self-signed certificate for localhost valid ``days`` more days: cert.pem, key.pem."""
    return write_self_signed(tmp_path / "cert.pem", tmp_path / "key.pem", ["localhost"], days=days)


async def ready_over_tls(cert: Path, key: Path) -> tuple[object, int]:
    """A TLS listener that answers every request as a ready veo would (the proxy's place)."""
    import asyncio

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    body = b'{"status":"ready"}'

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)  # fmt: skip
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    return server, server.sockets[0].getsockname()[1]


async def test_a_certificate_that_expires_soon_is_reported(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path, days=5)
    server, port = await ready_over_tls(cert, key)
    try:
        found = await public_url.check(f"https://localhost:{port}", tls_context(str(cert)))
    finally:
        server.close()  # type: ignore[attr-defined]
    assert found[0].check == "certificate" and found[0].status.value == "warn", found
    assert "the certificate of localhost expires on " in found[0].text, found
    assert found[0].text.endswith("in 5 days."), found
    assert found[1].status.value == "ok" and found[1].text.endswith("answers: ready."), found


async def test_a_certificate_with_months_left_is_ok_and_an_untrusted_one_is_not(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path, days=90)
    server, port = await ready_over_tls(cert, key)
    try:
        trusted = await public_url.check(f"https://localhost:{port}", tls_context(str(cert)))
        untrusted = await public_url.check(f"https://localhost:{port}", tls_context(None))
    finally:
        server.close()  # type: ignore[attr-defined]
    assert [f.status.value for f in trusted] == ["ok", "ok"], trusted
    assert trusted[0].text.startswith("valid for localhost until "), trusted
    assert len(untrusted) == 1 and untrusted[0].status.value == "fail", untrusted
    assert "is not valid: self-signed certificate" in untrusted[0].text, untrusted
