"""PortalInjector: DOM input as the portal's calls, without a bus (a recording notifier)."""

from typing import Any

import pytest

from veo.agent.desktop import StreamInfo
from veo.agent.input.base import InputError
from veo.agent.input.portal import PortalInjector, stream_at

LEFT = StreamInfo(10, 0, 0, 1280, 720)
RIGHT = StreamInfo(11, 1280, 0, 1920, 1080)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def notify(self, member: str, signature: str, *args: Any) -> None:
        assert len(signature) == len(args)
        self.calls.append((member, args))

    def keysyms(self) -> list[tuple[int, int]]:
        return [args for member, args in self.calls if member == "NotifyKeyboardKeysym"]  # type: ignore[misc]


def make() -> tuple[PortalInjector, Recorder]:
    recorder = Recorder()
    return PortalInjector(recorder, [LEFT, RIGHT]), recorder


def test_points_go_to_the_stream_under_them_relative_to_it() -> None:
    assert stream_at([LEFT, RIGHT], 5, 6) == (LEFT, 5.0, 6.0)
    assert stream_at([LEFT, RIGHT], 1280, 0) == (RIGHT, 0.0, 0.0)
    assert stream_at([LEFT, RIGHT], 3199, 1079) == (RIGHT, 1919.0, 1079.0)


def test_a_point_in_no_stream_goes_to_the_nearest_kept_inside() -> None:
    assert stream_at([LEFT, RIGHT], 100, 900) == (LEFT, 100.0, 719.0)  # below the smaller monitor
    assert stream_at([LEFT, RIGHT], 9999, -5) == (RIGHT, 1919.0, 0.0)


def test_no_stream_no_injector() -> None:
    with pytest.raises(InputError):
        PortalInjector(Recorder(), [])


def test_key_repeat_releases_first_and_key_up_without_down_sends_nothing() -> None:
    injector, recorder = make()
    injector.key("a", "KeyA", False)
    injector.key("a", "KeyA", True)
    injector.key("a", "KeyA", True)
    injector.key("a", "KeyA", False)
    assert recorder.keysyms() == [(0x61, 1), (0x61, 0), (0x61, 1), (0x61, 0)]


def test_right_modifiers_and_keys_without_keysym() -> None:
    injector, recorder = make()
    injector.key("Shift", "ShiftRight", True)
    injector.key("Dead", "BracketLeft", True)  # a dead key has no keysym: nothing sent, nothing held
    injector.release_all()
    assert recorder.keysyms() == [(0xFFE2, 1), (0xFFE2, 0)]


def test_text_types_each_character_with_unicode_keysyms_beyond_latin1() -> None:
    injector, recorder = make()
    injector.text("Añ€\t\x07")
    assert recorder.keysyms() == [
        (0x41, 1), (0x41, 0),
        (0xF1, 1), (0xF1, 0),
        (0x010020AC, 1), (0x010020AC, 0),
        (0xFF09, 1), (0xFF09, 0),
    ]  # fmt: skip


def test_wheel_is_clamped_and_a_release_without_press_sends_nothing() -> None:
    injector, recorder = make()
    injector.wheel(0, 0, 0, 5000)
    injector.pointer_button(0, 0, "left", False)
    assert [c for c in recorder.calls if c[0] != "NotifyPointerMotionAbsolute"] == [
        ("NotifyPointerAxisDiscrete", (0, 100))
    ]


def test_close_releases_everything_held() -> None:
    injector, recorder = make()
    injector.pointer_button(0, 0, "right", True)
    injector.key("x", "KeyX", True)
    recorder.calls.clear()
    injector.close()
    assert recorder.calls == [("NotifyKeyboardKeysym", (0x78, 0)), ("NotifyPointerButton", (0x111, 0))]
    recorder.calls.clear()
    injector.release_all()
    assert recorder.calls == []


def test_points_follow_a_monitor_resized_since_the_dialog() -> None:
    recorder = Recorder()
    resized = StreamInfo(10, 0, 0, 800, 600)
    injector = PortalInjector(recorder, [LEFT], lambda: [resized])
    injector.pointer_move(1000, 700)
    assert recorder.calls == [("NotifyPointerMotionAbsolute", (10, 799.0, 599.0))]


class UsLayout:
    """A known layout with no é and no € (as mutter's built-in US one)."""

    def __init__(self) -> None:
        self.closed = False

    def has(self, keysym: int) -> bool | None:
        return keysym not in (0xE9, 0x010020AC)

    def close(self) -> None:
        self.closed = True


def test_characters_missing_from_the_layout_are_typed_as_unicode_entry() -> None:
    recorder = Recorder()
    layout = UsLayout()
    injector = PortalInjector(recorder, [LEFT], keymap=layout)
    injector.text("a€")
    ctrl_shift_u = [(0xFFE3, 1), (0xFFE1, 1), (0x75, 1), (0x75, 0), (0xFFE1, 0), (0xFFE3, 0)]
    hex_digits = [(ord(c), state) for c in "20ac" for state in (1, 0)]
    assert recorder.keysyms() == [(0x61, 1), (0x61, 0), *ctrl_shift_u, *hex_digits, (0x20, 1), (0x20, 0)]
    recorder.calls.clear()
    injector.key("é", "Quote", True)  # a key the layout lacks: typed as text, nothing held
    injector.key("é", "Quote", False)
    e9 = [(ord(c), state) for c in "e9" for state in (1, 0)]
    assert recorder.keysyms() == [*ctrl_shift_u, *e9, (0x20, 1), (0x20, 0)]
    injector.close()
    assert layout.closed


def test_unknown_layout_sends_keysyms_as_they_are() -> None:
    class Unknown(UsLayout):
        def has(self, keysym: int) -> bool | None:
            return None

    recorder = Recorder()
    PortalInjector(recorder, [LEFT], keymap=Unknown()).text("é")
    assert recorder.keysyms() == [(0xE9, 1), (0xE9, 0)]
