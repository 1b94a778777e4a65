"""Which desktop a session goes to: logind's choice, the explicit display, the environment kept."""

from __future__ import annotations

import os
import pwd

import pytest

from veo.agent.device import desktop_seat
from veo.agent.device.desktop_seat import LogindSession, choose


def session(sid: str, **overrides: object) -> LogindSession:
    values: dict[str, object] = dict(
        session_id=sid, uid=1000, user="maria", type="x11", class_="user", active=True, remote=False,
        state="active", leader=100, display=":0",
    )  # fmt: skip
    values.update(overrides)
    return LogindSession(**values)  # type: ignore[arg-type]


def test_the_active_local_graphical_user_session_wins() -> None:
    chosen = choose(
        [
            session("c1", class_="greeter", user="gdm", uid=120),
            session("3", type="tty"),
            session("4", remote=True),
            session("5", active=False, state="online"),
            session("6", type="wayland", user="ana", uid=1001),
            session("7", uid=0, user="root"),
        ]
    )
    assert chosen is not None and chosen.session_id == "6" and chosen.user == "ana"


def test_nobody_signed_in_is_none() -> None:
    assert choose([]) is None
    assert choose([session("c1", class_="greeter"), session("2", state="closing")]) is None


def test_several_active_sessions_choose_stably() -> None:
    assert choose([session("9"), session("2")]) == session("2")


def test_explicit_display_with_env_passthrough() -> None:
    me = pwd.getpwuid(os.getuid())
    env = {"VEO_AGENT_DISPLAY": ":7", "XAUTHORITY": "/tmp/xa", "WAYLAND_DISPLAY": "wayland-1", "SECRET": "no"}
    # not root: sessions run as the service's own user (root's choice: test_display_owner.py)
    desktop = desktop_seat.explicit(None, None, env, euid=1000)
    assert desktop is not None
    assert desktop.user == me.pw_name and desktop.uid == me.pw_uid
    assert dict(desktop.env) == {"DISPLAY": ":7", "XAUTHORITY": "/tmp/xa", "WAYLAND_DISPLAY": "wayland-1"}
    assert desktop_seat.explicit(":3", None, env, euid=1000).env["DISPLAY"] == ":3"  # type: ignore[union-attr]
    assert desktop_seat.explicit(None, None, {}) is None


def test_explicit_unknown_user_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        desktop_seat.explicit(":0", "no-such-user-veo-test", {})


def test_environ_keeps_only_the_session_variables() -> None:
    raw = b"DISPLAY=:1\0XAUTHORITY=/run/user/1000/gdm/Xauthority\0AWS_SECRET=x\0LANG=es_ES.UTF-8\0junk\0"
    assert desktop_seat.parse_environ(raw) == {
        "DISPLAY": ":1",
        "XAUTHORITY": "/run/user/1000/gdm/Xauthority",
        "LANG": "es_ES.UTF-8",
    }


async def test_find_without_logind_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEO_AGENT_DISPLAY", raising=False)

    async def no_bus() -> list[LogindSession]:
        raise OSError("no system bus")

    monkeypatch.setattr(desktop_seat, "logind_sessions", no_bus)
    assert await desktop_seat.find(None, None) is None
