"""The device keeps the promise of its notice (review R1-8).

The person at the computer was told what technicians may do (the enrolment notice). A group
whose policy changes later (an administrator, or a hostile server) must not make the device do
more before that person was told: the welcome's new policy is kept, written to the device's
history and shown again on the desktop; a request above what the person was told is refused
(after the notice was shown), and the next one works.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.agent.device.test_device_launch import Recorder, Running, my_desktop

from veo.agent.device import device_history, keys, launcher, notice_text, state
from veo.agent.device.desktop_seat import Desktop
from veo.agent.device.service import DeviceService, ServiceOptions
from veo.protocol.device import DevicePolicy, EnrolResponse, SessionRequest


def enrolled(
    policy: DevicePolicy = "ask", unattended: bool = False, told: DevicePolicy | None = None
) -> state.DeviceConfig:
    return state.DeviceConfig(
        server="https://support.example",
        device_id="b" * 32,
        device_name="reception-02",
        organization="ACME",
        group="Reception",
        policy=policy,
        unattended=unattended,
        enrolled_at="2026-12-07T10:00:00+00:00",
        enrolled_by="Ana Admin",
        told_policy=told,
    )


def request(policy: DevicePolicy, session_id: str) -> SessionRequest:
    return SessionRequest(
        session_id=session_id,
        code="418305772",
        secret="5e" * 32,
        policy=policy,
        reason="The printer queue is stuck",
        technician_name="Tom Tech",
        organization="ACME",
        ticket_id=0,
        ticket_title="",
    )


def make(
    tmp_path: Path, config: state.DeviceConfig, desktop: Desktop | None, launch: Recorder
) -> DeviceService:
    state.write_config(tmp_path, config)

    async def find(display: str | None, user: str | None) -> Desktop | None:
        return desktop

    return DeviceService(
        ServiceOptions(directory=tmp_path), config, keys.generate(), None, find_desktop=find, launch=launch
    )


def notices(launch: Recorder) -> list[dict[str, object]]:
    return [
        json.loads(data)
        for _d, argv, data in launch.calls
        if argv == launcher.agent_command("--device-notice")
    ]


def sessions(launch: Recorder) -> list[bytes]:
    return [data for _d, argv, data in launch.calls if argv == launcher.agent_command("--device-session")]


def test_an_old_device_json_was_told_what_its_enrolment_notice_said() -> None:
    assert enrolled("ask").told() == "ask"
    assert enrolled("unattended", unattended=False).told() == "notify"  # the notice's cap
    assert enrolled("unattended", unattended=True).told() == "unattended"
    assert enrolled("notify", told="ask").told() == "ask"


async def test_an_ask_device_refuses_notify_until_its_person_was_told(tmp_path: Path) -> None:
    launch = Recorder(Running())
    svc = make(tmp_path, enrolled("ask"), my_desktop(), launch)

    first = await svc.handle(request("notify", "s-1"))
    assert not first.ok and first.problem == "policy_not_told"
    assert sessions(launch) == []  # nothing started without asking
    (shown,) = notices(launch)  # the person is told first: the notice of the stronger policy
    assert shown["changed_from"] == "ask"
    told = EnrolResponse.model_validate(shown["enrolment"])
    assert told.policy == "notify" and told.device_name == "reception-02"
    # the device now knows (and keeps) that its person was told notify
    on_disk = state.read_config(tmp_path)
    assert on_disk is not None and on_disk.policy == "notify" and on_disk.told() == "notify"

    second = await svc.handle(request("notify", "s-2"))
    assert second.ok and len(sessions(launch)) == 1
    events = device_history.read([tmp_path]).events
    kinds = [(e.kind, e.policy, e.previous_policy, e.problem) for e in reversed(events)]
    assert kinds == [
        ("policy_changed", "notify", "ask", ""),
        ("session_request", "notify", "", "policy_not_told"),
        ("session_request", "notify", "", ""),
    ]


async def test_nobody_to_tell_nothing_stronger_starts(tmp_path: Path) -> None:
    launch = Recorder(Running())
    svc = make(tmp_path, enrolled("ask"), None, launch)
    await svc.learn_policy("notify")  # the welcome says the group is notify now
    assert svc.config.policy == "notify" and svc.config.told() == "ask"  # nobody saw a notice
    for number in range(2):
        answer = await svc.handle(request("notify", f"s-{number}"))
        assert not answer.ok and answer.problem == "policy_not_told"
    assert launch.calls == []
    (changed,) = [e for e in device_history.read([tmp_path]).events if e.kind == "policy_changed"]
    assert (changed.previous_policy, changed.policy, changed.problem) == ("ask", "notify", "no_desktop")


async def test_a_welcome_with_a_new_policy_is_kept_recorded_and_shown(tmp_path: Path) -> None:
    launch = Recorder(Running())
    svc = make(tmp_path, enrolled("ask"), my_desktop(), launch)
    await svc.learn_policy("ask")  # unchanged: nothing to say
    assert launch.calls == [] and device_history.read([tmp_path]).events == []

    await svc.learn_policy("notify")
    (shown,) = notices(launch)
    assert EnrolResponse.model_validate(shown["enrolment"]).policy == "notify"
    assert svc.config.told() == "notify"
    (changed,) = device_history.read([tmp_path]).events
    assert (changed.kind, changed.previous_policy, changed.policy) == ("policy_changed", "ask", "notify")
    assert changed.detail == my_desktop().user and changed.problem == ""

    # weaker again: binds at once, shown too
    svc2 = make(tmp_path, svc.config, None, launch)
    await svc2.learn_policy("ask")
    assert svc2.config.told() == "ask" and state.read_config(tmp_path).told() == "ask"  # type: ignore[union-attr]
    answer = await svc2.handle(request("notify", "s-9"))
    assert not answer.ok


async def test_unattended_still_needs_the_enrolment_for_it(tmp_path: Path) -> None:
    launch = Recorder(Running())
    svc = make(tmp_path, enrolled("notify"), my_desktop(), launch)
    await svc.learn_policy("unattended")  # not enrolled for it: what the person is told is notify
    assert svc.config.policy == "unattended" and svc.config.told() == "notify"
    assert notices(launch) == []  # nothing changes for this computer: no notice
    answer = await svc.handle(request("unattended", "s-1"))
    assert not answer.ok and answer.problem == "unattended_not_enrolled"
    assert (await svc.handle(request("notify", "s-2"))).ok


async def test_an_unattended_token_in_an_ask_group_asks_until_told(tmp_path: Path) -> None:
    launch = Recorder(Running())
    svc = make(tmp_path, enrolled("ask", unattended=True), my_desktop(), launch)
    assert not (await svc.handle(request("unattended", "s-1"))).ok
    (shown,) = notices(launch)
    assert EnrolResponse.model_validate(shown["enrolment"]).policy == "unattended"
    assert (await svc.handle(request("unattended", "s-2"))).ok


async def test_a_notice_that_cannot_start_does_not_count(tmp_path: Path) -> None:
    launch = Recorder(error=OSError("no such program"))
    svc = make(tmp_path, enrolled("ask"), my_desktop(), launch)
    await svc.learn_policy("notify")
    assert svc.config.told() == "ask"
    (changed,) = device_history.read([tmp_path]).events
    assert changed.problem == "launch_failed"


def test_the_changed_notice_says_what_changed() -> None:
    response = EnrolResponse(
        device_id="b" * 32, device_name="reception-02", organization="ACME", group="Reception",
        policy="notify", unattended=False, enrolled_by="Ana Admin", enrolled_at="2026-12-07T10:00:00+00:00",
    )  # fmt: skip
    notice = notice_text.build(response, "en", changed_from="ask")
    assert notice.title == "ACME changed what its technicians may do on this computer"
    assert notice.paragraphs[0].startswith("ACME changed what its technicians may do on this computer")
    assert "without asking first" in notice.paragraphs[1]
    spanish = notice_text.build(response, "es", changed_from="ask")
    assert spanish.title  # translated once the locale has it (es-F3.json)
    assert notice_text.build(response, "en").title == "This computer is now managed by ACME"


def test_the_history_says_a_policy_change_and_a_refusal_in_words() -> None:
    """A ``policy_changed`` line reads as a change (not as an unenrolment), a refused request as
    refused (not as started)."""
    from veo.agent.history_text import device_summary

    changed = device_history.DeviceEvent(
        kind="policy_changed",
        at="2026-12-07T01:00:00+00:00",
        organization="ACME IT",
        policy="notify",
        previous_policy="ask",
        detail="maria",
    )
    text = " ".join(device_summary(changed, "en").lines)
    assert "changed what its technicians may do" in text and "maria" in text
    assert "No longer managed" not in text
    refused = device_history.DeviceEvent(
        kind="session_request",
        at="2026-12-07T01:00:00+00:00",
        organization="ACME IT",
        technician="Ana",
        reason="printer",
        policy="notify",
        problem="policy_not_told",
        detail="maria",
    )
    words = " ".join(device_summary(refused, "en").lines)
    assert "What happened: refused: you had not yet been told" in words and "started on" not in words
