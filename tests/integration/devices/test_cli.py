"""``veo admin device-group|enrolment-token|device``: the same services from the server's shell."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.integration.devices.device_support import enrol_body

from veo.protocol.device import EnrolRequest
from veo.server import admin as admin_cli
from veo.server.audit.models import AuditEvent
from veo.server.db.engine import Database
from veo.server.devices import enrol
from veo.server.devices.models import Device


def _enrol(database_url: str, secret: str) -> str:
    db = Database(database_url)
    try:
        with db.session() as s:
            result = enrol.enrol(
                s, EnrolRequest.model_validate(enrol_body(secret, "kiosk-3")), address="", organization=""
            )
            assert not isinstance(result, enrol.Refused)
            return result.device_id
    finally:
        db.dispose()


def test_groups_tokens_and_devices_from_the_shell(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--database-url", database_url, "--data-dir", str(tmp_path / "data")]
    assert (
        admin_cli.main(
            [*argv, "device-group", "add", "Kiosks", "--policy", "notify", "--roles", "technician"]
        )
        == 0
    )
    assert "Kiosks" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        admin_cli.main([*argv, "device-group", "add", "kiosks"])
    assert "already exists" in capsys.readouterr().err
    assert admin_cli.main([*argv, "device-group", "list"]) == 0
    assert "roles: technician" in capsys.readouterr().out

    assert (
        admin_cli.main([*argv, "enrolment-token", "create", "Kiosks", "--label", "Lobby", "--hours", "2"])
        == 0
    )
    out = capsys.readouterr().out
    secret = re.search(r"veo-enrol-[a-z2-7]{32}", out)
    assert secret is not None
    assert f"printf '%s\\n' {secret.group(0)} | sudo veo-agent enrol --server " in out
    assert "--token -" in out and f"--token {secret.group(0)}" not in out
    with pytest.raises(SystemExit):
        admin_cli.main([*argv, "enrolment-token", "create", "Nowhere"])
    assert "Nowhere" in capsys.readouterr().err
    assert admin_cli.main([*argv, "enrolment-token", "list"]) == 0
    assert "active" in capsys.readouterr().out

    device_id = _enrol(database_url, secret.group(0))
    assert admin_cli.main([*argv, "enrolment-token", "list"]) == 0
    assert "used" in capsys.readouterr().out
    assert admin_cli.main([*argv, "device", "list"]) == 0
    assert f"{device_id}\tkiosk-3\tKiosks\toffline" in capsys.readouterr().out
    assert admin_cli.main([*argv, "device", "revoke", device_id]) == 0
    assert "kiosk-3" in capsys.readouterr().out

    db = Database(database_url)
    try:
        with db.session() as s:
            device = s.get(Device, device_id)
            assert device is not None and device.revoked_by == "server"
            actions = [(e.action, e.actor) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    finally:
        db.dispose()
    assert ("device.group_created", "cli") in actions
    assert ("device.token_created", "cli") in actions
    assert ("device.revoked", "cli") in actions
