"""``deploy/``: the compose file, the proxy files it mounts, the systemd units.

There is no Docker daemon here, so the compose file is checked for what would make it fail or
be wrong when an operator runs it: each service has what it needs, the veo nodes' settings are
settings veo has, every file it mounts or builds from exists, the proxy addresses and the
trusted-proxy address agree, and HAProxy accepts its two files with compose's environment
(``haproxy -c``). The topology itself runs as processes in ``tests/multinode/``. The systemd
units go through ``systemd-analyze verify`` with only the paths of this machine swapped in.
"""

from __future__ import annotations

import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from veo.config import Settings
from veo.server.audit.checkpoints import CheckpointSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
#: Every VEO_* variable veo reads.
SETTINGS = {f"VEO_{name.upper()}" for name in Settings.model_fields} | {
    f"VEO_AUDIT_{name.upper()}" for name in CheckpointSettings.model_fields
}


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def veo_nodes(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in doc["services"].items() if s.get("build", {}).get("target") == "veo"}


def env_file_keys(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (comments and commented-out settings left out)."""
    found = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _sep, value = line.partition("=")
            found[name.strip()] = value
    return found


def test_two_nodes_by_default_and_every_part_of_the_topology() -> None:
    doc = compose()
    assert set(doc["services"]) == {"veo1", "veo2", "proxy", "db", "redis", "coturn"}
    assert len(veo_nodes(doc)) == 2


def test_the_nodes_set_only_settings_veo_has() -> None:
    for name, node in veo_nodes(compose()).items():
        unknown = {key for key in node["environment"] if key.startswith("VEO_")} - SETTINGS
        assert unknown == set(), name
        assert node["env_file"] == ".env"
    example = env_file_keys(DEPLOY / ".env.example")
    assert {key for key in example if key.startswith("VEO_")} - SETTINGS == set()
    systemd_example = env_file_keys(DEPLOY / "systemd" / "veo.env.example")
    assert set(systemd_example) - SETTINGS == set()
    # the commented-out optional ones too: a typo there would be copied in later
    commented = re.findall(r"^#(VEO_[A-Z_]+)=", (DEPLOY / ".env.example").read_text(), re.MULTILINE)
    assert commented and set(commented) - SETTINGS == set()


def test_every_secret_compose_requires_is_in_the_env_example() -> None:
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text()))
    assert required == {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "VEO_PUBLIC_URL", "VEO_TURN_SECRET"}
    example = env_file_keys(DEPLOY / ".env.example")
    assert required <= set(example)
    for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "VEO_TURN_SECRET"):
        assert example[name].startswith("REPLACE"), name  # never a working default secret


def test_the_nodes_share_their_data_directory_and_reach_db_and_redis() -> None:
    doc = compose()
    for name, node in veo_nodes(doc).items():
        env = node["environment"]
        assert node["volumes"] == [f"veo-data:{env['VEO_DATA_DIR']}"], name
        assert "veo-data" in doc["volumes"]
        assert "@db:5432/veo" in env["VEO_DATABASE_URL"] and env["VEO_DATABASE_URL"].startswith(
            "postgresql+psycopg://veo:"
        )
        assert "@redis:6379/" in env["VEO_REDIS_URL"]
        assert node["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        assert node["read_only"] is True and node["cap_drop"] == ["ALL"]
    assert doc["services"]["db"]["environment"]["POSTGRES_USER"] == "veo"
    assert "healthcheck" in doc["services"]["db"] and "healthcheck" in doc["services"]["redis"]
    # TCP, not the Unix socket the image's temporary init server answers on
    assert doc["services"]["db"]["healthcheck"]["test"][:4] == ["CMD", "pg_isready", "-h", "127.0.0.1"]
    assert "requirepass $$REDIS_PASSWORD" in doc["services"]["redis"]["command"][-1]


def test_the_proxy_reaches_every_node_and_the_nodes_believe_only_the_proxy() -> None:
    doc = compose()
    proxy = doc["services"]["proxy"]
    proxy_address = proxy["networks"]["veo"]["ipv4_address"]
    addresses = {}
    for name, node in veo_nodes(doc).items():
        assert node["environment"]["VEO_TRUSTED_PROXIES"] == proxy_address, name
        addresses[name] = node["networks"]["veo"]["ipv4_address"]
    listed = [value for key, value in proxy["environment"].items() if re.fullmatch(r"VEO_NODE\d", key)]
    assert {f"{address}:8000" for address in addresses.values()} <= set(listed)
    assert len(set(listed)) == len(listed)  # no node listed twice (it would get twice the share)
    haproxy_servers = re.findall(
        r"^\s*server \S+ \"\$\{(VEO_NODE\d)\}\" check",  # the checked servers (not the fallbacks)
        (DEPLOY / "haproxy" / "haproxy.cfg").read_text(),
        re.MULTILINE,
    )
    assert sorted(haproxy_servers) == sorted(
        key for key in proxy["environment"] if key.startswith("VEO_NODE")
    )
    assert any(port.endswith(":443:443") for port in proxy["ports"])


def mounted_sources(service: dict[str, Any]) -> list[Path]:
    return [DEPLOY / volume.split(":")[0] for volume in service.get("volumes", []) if volume.startswith("./")]


def test_every_file_mounted_or_built_from_exists() -> None:
    doc = compose()
    for name in ("proxy", "coturn"):
        for source in mounted_sources(doc["services"][name]):
            if source.name != "certs":  # the operator's certificates
                assert source.is_file(), source
    targets = set(re.findall(r"^FROM \S+ AS (\S+)$", (DEPLOY / "Dockerfile").read_text(), re.MULTILINE))
    for name, service in doc["services"].items():
        if "build" in service:
            assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name
            assert service["build"]["target"] in targets, name
    assert "--constraint constraints.txt '.[server]'" in (DEPLOY / "Dockerfile").read_text()


def test_coturn_gets_the_shipped_hardened_file() -> None:
    coturn = compose()["services"]["coturn"]
    assert "./turnserver.conf:/etc/turnserver.conf:ro" in coturn["volumes"]
    assert coturn["network_mode"] == "host"


def test_haproxy_accepts_both_files_with_composes_environment(tmp_path: Path) -> None:
    if shutil.which("haproxy") is None:
        pytest.skip("needs haproxy (make system-packages)")
    from tests.integration.test_doctor import certificate

    cert, key = certificate(tmp_path, days=30)
    pem = tmp_path / "veo.pem"
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    proxy = compose()["services"]["proxy"]
    env = {**proxy["environment"], "VEO_TLS_CERT": str(pem), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    files = [str(DEPLOY / "haproxy" / "haproxy.cfg"), str(DEPLOY / "haproxy" / "tls.cfg")]
    result = subprocess.run(
        ["haproxy", "-c", "-f", files[0], "-f", files[1]],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Configuration file is valid" in result.stdout + result.stderr


def global_settings(path: Path) -> dict[str, str]:
    """The ``global`` section of one HAProxy file, keyword -> rest of the line."""
    found: dict[str, str] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not raw[0].isspace():
            section = line.split()[0]
        elif section == "global":
            keyword, _sep, rest = line.strip().partition(" ")
            found[keyword] = rest.strip()
    return found


def test_on_debian_haproxy_drops_root_and_chroots(tmp_path: Path) -> None:
    """The VM set-up replaces Debian's /etc/haproxy/haproxy.cfg (the drop-in's CONFIG is a directory),
    so the directory itself must say what that file said: run as ``haproxy`` in a chroot, with
    Debian's TLS ciphers (those in tls.cfg, which compose loads too). It is loaded first (name
    order), and the three files together pass ``haproxy -c``; haproxy.cfg and tls.cfg stay
    runnable unprivileged (compose, tests/multinode)."""
    drop_in = (DEPLOY / "systemd" / "haproxy.service.d" / "veo.conf").read_text()
    assert "Environment=CONFIG=/etc/haproxy/veo\n" in drop_in
    shipped = ["debian-global.cfg", "haproxy.cfg", "tls.cfg"]
    assert sorted(shipped) == shipped  # HAProxy reads a directory's files in name order
    debian = global_settings(DEPLOY / "haproxy" / "debian-global.cfg")
    assert debian["user"] == "haproxy" and debian["group"] == "haproxy"
    assert debian["chroot"] == "/var/lib/haproxy"
    tls = global_settings(DEPLOY / "haproxy" / "tls.cfg")  # Debian's ciphers, for compose too
    assert "ssl-min-ver TLSv1.2" in tls["ssl-default-bind-options"]
    assert "no-tls-tickets" in tls["ssl-default-bind-options"]
    ciphers = tls["ssl-default-bind-ciphers"].split(":")
    assert ciphers and all(cipher.endswith(("GCM-SHA256", "GCM-SHA384", "POLY1305")) for cipher in ciphers)
    assert tls["ssl-default-bind-ciphersuites"].startswith("TLS_AES_")
    for name in ("haproxy.cfg", "tls.cfg"):  # nothing that needs root in the shared files
        privileged = {"user", "group", "chroot", "uid", "gid"}
        assert privileged & set(global_settings(DEPLOY / "haproxy" / name)) == set(), name
    if shutil.which("haproxy") is None:
        pytest.skip("needs haproxy (make system-packages)")
    try:
        pwd.getpwnam("haproxy")
    except KeyError:
        pytest.skip("needs Debian's haproxy package (its user)")
    from tests.integration.test_doctor import certificate

    cert, key = certificate(tmp_path, days=30)
    pem = tmp_path / "veo.pem"
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    directory = tmp_path / "veo"
    directory.mkdir()
    for name in shipped:
        shutil.copy(DEPLOY / "haproxy" / name, directory / name)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "VEO_PROXY_BIND": "127.0.0.1:8080",
        "VEO_NODE1": "127.0.0.1:8001",
        "VEO_NODE2": "127.0.0.1:8002",
        "VEO_NODE3": "127.0.0.1:8003",
        "VEO_TLS_CERT": str(pem),
        "VEO_HTTPS_BIND": ":443",
        "VEO_HTTP_BIND": ":80",
    }
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(directory)], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Configuration file is valid" in result.stdout + result.stderr


def verify(unit: Path) -> str:
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False
    )
    return (result.stdout + result.stderr).strip() + (
        "" if result.returncode == 0 else f" (exit {result.returncode})"
    )


@pytest.fixture
def systemd_analyze() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("needs systemd-analyze")


def test_the_node_unit_verifies(systemd_analyze: None, tmp_path: Path) -> None:
    """With this machine's veo and a scratch environment file, systemd has nothing to say."""
    veo = str(Path(sys.executable).with_name("veo"))
    text = (DEPLOY / "systemd" / "veo-server@.service").read_text()
    assert "ExecStart=/opt/veo/bin/veo server --host 127.0.0.1 --port %i" in text
    for hardening in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/veo",
        "User=veo",
    ):
        assert hardening in text.splitlines(), hardening
    # ProcSubset=pid hides /proc/stat: /metrics would lose the process memory and fd series
    assert "ProtectProc=invisible" in text.splitlines()
    assert not [line for line in text.splitlines() if line.startswith("ProcSubset=")]
    (tmp_path / "veo.env").write_text("")
    local = text.replace("/opt/veo/bin/veo", veo).replace("/etc/veo/veo.env", str(tmp_path / "veo.env"))
    (tmp_path / "veo-server@.service").write_text(local)
    assert verify(tmp_path / "veo-server@8001.service") == ""
    # and the check is real: a misspelt value is reported
    (tmp_path / "veo-server@.service").write_text(
        local.replace("ProtectSystem=strict", "ProtectSystem=stricter")
    )
    assert "stricter" in verify(tmp_path / "veo-server@8001.service")


def test_the_haproxy_drop_in_verifies_with_debians_unit(systemd_analyze: None, tmp_path: Path) -> None:
    debian = Path("/lib/systemd/system/haproxy.service")
    if not debian.exists():
        pytest.skip("needs Debian's haproxy package")
    shutil.copy(debian, tmp_path / "haproxy.service")
    (tmp_path / "haproxy.service.d").mkdir()
    shutil.copy(
        DEPLOY / "systemd" / "haproxy.service.d" / "veo.conf", tmp_path / "haproxy.service.d" / "veo.conf"
    )
    assert verify(tmp_path / "haproxy.service") == ""
