"""The portal client's pure parts: stream parsing, request paths, what counts as control."""

from dbus_fast import Variant

from veo.agent.desktop import StreamInfo
from veo.agent.portal.bus import PortalGrant, PortalSession, parse_streams, sender_path_part
from veo.agent.portal.desktop import control_of


def test_request_path_part_follows_the_portal_rule() -> None:
    assert sender_path_part(":1.42") == "1_42"


def test_streams_parsed_with_missing_fields_as_zero() -> None:
    value = [
        [37, {"position": Variant("(ii)", [1280, 0]), "size": Variant("(ii)", [1920, 1080]),
              "id": Variant("s", "1")}],
        [38, {}],  # wlroots may give neither position nor size
    ]  # fmt: skip
    assert parse_streams(value) == (StreamInfo(37, 1280, 0, 1920, 1080), StreamInfo(38, 0, 0, 0, 0, ""))
    assert parse_streams(None) == ()


def grant(remote_desktop: bool, devices: int) -> PortalGrant:
    return PortalGrant((StreamInfo(1, 0, 0, 10, 10),), -1, remote_desktop, devices, True)


def test_control_needs_the_keyboard_and_the_pointer() -> None:
    assert control_of(True, grant(True, 3)) == (True, None)
    assert control_of(True, grant(True, 2)) == (False, "control_refused")
    assert control_of(True, grant(True, 0)) == (False, "control_refused")
    assert control_of(True, grant(False, 0)) == (False, "no_remote_desktop")
    assert control_of(False, grant(True, 3)) == (False, None)  # refused in veo's own dialog


def test_notify_before_open_or_after_close_is_dropped() -> None:
    session = PortalSession("unix:path=/nonexistent")
    session.notify("NotifyPointerButton", "iu", 0x110, 1)  # no loop yet: nothing, no error
