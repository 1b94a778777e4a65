"""A session request: the policy checked against the enrolment, one at a time, the desktop found,
the history written, and the LaunchSpec only ever on the child's stdin (never argv or env)."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import sys
from pathlib import Path

import pytest

from veo.agent.device import device_history, keys, launcher, state
from veo.agent.device.desktop_seat import Desktop
from veo.agent.device.service import DeviceService, ServiceOptions
from veo.protocol.device import LaunchSpec, SessionRequest

CODE = "418305772"
SECRET = "5e" * 32


def config(unattended: bool = False) -> state.DeviceConfig:
    return state.DeviceConfig(
        server="https://support.example",
        device_id="a" * 32,
        device_name="reception-01",
        organization="ACME",
        group="Reception",
        policy="unattended" if unattended else "notify",
        unattended=unattended,
        enrolled_at="2026-12-07T10:00:00+00:00",
        enrolled_by="Ana Admin",
    )


def request(policy: str = "notify", session_id: str = "s-1") -> SessionRequest:
    return SessionRequest(
        session_id=session_id,
        code=CODE,
        secret=SECRET,
        policy=policy,  # type: ignore[arg-type]
        reason="The printer queue is stuck",
        technician_name="Tom Tech",
        organization="ACME",
        ticket_id=42,
        ticket_title="Printer",
    )


def my_desktop(env: dict[str, str] | None = None) -> Desktop:
    me = pwd.getpwuid(os.getuid())
    return Desktop(me.pw_name, me.pw_uid, me.pw_gid, me.pw_dir, me.pw_shell, env or {"DISPLAY": ":5"})


class Recorder:
    """Stands in for ``launcher.start``: keeps what a child would get."""

    def __init__(self, process: object = None, error: OSError | None = None) -> None:
        self.calls: list[tuple[Desktop, list[str], bytes]] = []
        self.process = process
        self.error = error

    async def __call__(self, desktop: Desktop, argv: list[str], data: bytes) -> asyncio.subprocess.Process:
        self.calls.append((desktop, argv, data))
        if self.error is not None:
            raise self.error
        return self.process  # type: ignore[return-value]


class Running:
    returncode: int | None = None

    async def wait(self) -> int:
        await asyncio.Event().wait()
        return 0


def service(
    tmp_path: Path, launch: Recorder, desktop: Desktop | None, unattended: bool = False
) -> DeviceService:
    async def find(display: str | None, user: str | None) -> Desktop | None:
        return desktop

    return DeviceService(
        ServiceOptions(directory=tmp_path),
        config(unattended),
        keys.generate(),
        None,
        find_desktop=find,
        launch=launch,
    )


async def test_a_request_starts_the_session_part_with_the_spec_on_stdin(tmp_path: Path) -> None:
    launch = Recorder(Running())
    answer = await service(tmp_path, launch, my_desktop()).handle(request())
    assert answer.ok and answer.problem is None and answer.session_id == "s-1"
    ((desktop, argv, data),) = launch.calls
    assert argv == launcher.agent_command("--device-session")
    assert argv[-1] == "--device-session" and not any(CODE in word for word in argv)
    spec = LaunchSpec.model_validate_json(data)
    assert (spec.code, spec.policy, spec.reason, spec.technician_name) == (
        CODE, "notify", "The printer queue is stuck", "Tom Tech",
    )  # fmt: skip
    assert spec.device_name == "reception-01" and spec.server == "https://support.example"
    assert spec.secret == SECRET  # the session part proves the join is the device's with it
    assert not any(SECRET in word for word in argv)
    assert spec.device_history == str(tmp_path / state.HISTORY_NAME)
    assert not any(CODE in value for value in launcher.child_env(desktop).values())
    assert not any(SECRET in value for value in launcher.child_env(desktop).values())
    assert SECRET not in (tmp_path / state.HISTORY_NAME).read_text()  # the history is 0644
    (event,) = device_history.read([tmp_path]).events
    assert (event.kind, event.technician, event.reason, event.policy, event.problem) == (
        "session_request", "Tom Tech", "The printer queue is stuck", "notify", "",
    )  # fmt: skip
    assert event.ticket_id == 42 and event.detail == desktop.user


async def test_unattended_needs_a_device_enrolled_for_it(tmp_path: Path) -> None:
    launch = Recorder(Running())
    answer = await service(tmp_path, launch, my_desktop()).handle(request("unattended"))
    assert not answer.ok and answer.problem == "unattended_not_enrolled"
    assert launch.calls == []
    assert device_history.read([tmp_path]).events[0].problem == "unattended_not_enrolled"
    allowed = await service(tmp_path, Recorder(Running()), my_desktop(), unattended=True).handle(
        request("unattended")
    )
    assert allowed.ok


async def test_one_session_at_a_time(tmp_path: Path) -> None:
    launch = Recorder(Running())
    device = service(tmp_path, launch, my_desktop())
    assert (await device.handle(request(session_id="s-1"))).ok
    second = await device.handle(request(session_id="s-2"))
    assert (second.ok, second.problem) == (False, "busy")
    assert len(launch.calls) == 1


async def test_no_desktop_and_failed_launch(tmp_path: Path) -> None:
    nobody = await service(tmp_path, Recorder(Running()), None).handle(request())
    assert nobody.problem == "no_desktop"
    failed = await service(tmp_path, Recorder(error=PermissionError("denied")), my_desktop()).handle(
        request()
    )
    assert failed.problem == "launch_failed"
    assert sorted(e.problem for e in device_history.read([tmp_path]).events) == [
        "launch_failed",
        "no_desktop",
    ]


async def test_the_real_child_gets_the_spec_on_stdin_only(tmp_path: Path) -> None:
    """A real process started by ``launcher.start``: what it sees in argv, env and stdin."""
    out = tmp_path / "seen.json"
    script = (
        "import json,os,sys;"
        "seen = {'argv': sys.argv, 'env': dict(os.environ), 'stdin': sys.stdin.read()};"
        f"json.dump(seen, open({str(out)!r}, 'w'))"
    )
    spec = b'{"code": "' + CODE.encode() + b'"}'
    process = await launcher.start(
        my_desktop({"DISPLAY": ":5", "LANG": "es_ES.UTF-8"}), [sys.executable, "-c", script], spec
    )
    assert await process.wait() == 0
    seen = json.loads(out.read_text())
    assert seen["stdin"] == spec.decode()
    assert not any(CODE in word for word in seen["argv"])
    assert not any(CODE in value for value in seen["env"].values())
    assert seen["env"]["DISPLAY"] == ":5" and seen["env"]["LANG"] == "es_ES.UTF-8"
    assert seen["env"]["PATH"] == launcher.SAFE_PATH
    assert "VEO_AGENT_STATE_DIR" not in seen["env"]


def test_as_root_the_child_becomes_the_desktop_user() -> None:
    desktop = Desktop("maria", 1000, 1000, "/home/maria", "/bin/bash")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "getgrouplist", lambda name, gid: [gid, 27])
        assert launcher.switch_user_kwargs(desktop, running_as_root=True) == {
            "user": 1000,
            "group": 1000,
            "extra_groups": [1000, 27],
        }
    assert launcher.switch_user_kwargs(desktop, running_as_root=False) == {}
    root_desktop = Desktop("root", 0, 0, "/root", "/bin/sh")
    assert launcher.switch_user_kwargs(root_desktop, running_as_root=True) == {}


def test_child_env_is_the_account_and_the_session_only() -> None:
    desktop = Desktop("maria", 1000, 1000, "/home/maria", "/bin/bash", {"WAYLAND_DISPLAY": "wayland-0"})
    env = launcher.child_env(
        desktop, {"SECRET_TOKEN": "x", "VEO_AGENT_CA_FILE": "/etc/ca.pem", "HOME": "/root"}
    )
    assert env == {
        "HOME": "/home/maria",
        "USER": "maria",
        "LOGNAME": "maria",
        "SHELL": "/bin/bash",
        "PATH": launcher.SAFE_PATH,
        "VEO_AGENT_CA_FILE": "/etc/ca.pem",
        "WAYLAND_DISPLAY": "wayland-0",
    }
