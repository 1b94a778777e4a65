"""The timestamp pattern: what the workload draws is what the probe decodes, and nothing else."""

from __future__ import annotations

import pytest

from veo.bench.stream import pattern


@pytest.mark.parametrize("value", [0, 1, 0x8000, 0xFFFF, 12345, 0xA5A5, 0x0F0F])
def test_encode_then_decode_gives_the_value_back(value: int) -> None:
    lumas = [255.0 if light else 0.0 for light in pattern.encode(value)]
    assert pattern.decode(lumas) == value


def test_every_16_bit_value_round_trips_through_encoder_noise() -> None:
    for value in range(0, pattern.MODULUS, 7):
        lumas = [230.0 if light else 30.0 for light in pattern.encode(value)]
        assert pattern.decode(lumas) == value


def test_a_grey_block_from_a_frame_caught_mid_redraw_is_rejected() -> None:
    lumas = [255.0 if light else 0.0 for light in pattern.encode(4242)]
    lumas[3] = 128.0
    assert pattern.decode(lumas) is None


def test_a_flipped_bit_fails_the_check_bits() -> None:
    bits = pattern.encode(0x1234)
    rejected = 0
    for index in range(pattern.VALUE_BITS):
        flipped = list(bits)
        flipped[index] = not flipped[index]
        if pattern.decode([255.0 if b else 0.0 for b in flipped]) is None:
            rejected += 1
    assert rejected == pattern.VALUE_BITS  # one wrong bit always changes one nibble's XOR


def test_wrong_number_of_blocks_decodes_to_nothing() -> None:
    assert pattern.decode([0.0] * (pattern.BLOCKS - 1)) is None


def test_value_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bits"):
        pattern.encode(1 << 16)


def test_latency_wraps_around_the_16_bit_clock() -> None:
    drawn = pattern.stamp(1_700_000_065.530)  # just before a wrap of the 16-bit millisecond clock
    shown_ms = int(1_700_000_065.580 * 1000)
    assert pattern.latency_ms(shown_ms, drawn) == 50


def test_layout_keeps_the_pattern_inside_the_bottom_left_of_the_screen() -> None:
    layout = pattern.Layout(1280, 720)
    x, y, width, height = layout.span
    assert x >= 0 and y >= 0 and x + width <= 1280 and y + height <= 720
    assert y > 720 // 2 and x + width < 1280 // 2
    assert layout.block(pattern.BLOCKS - 1)[0] + pattern.BLOCK == x + width


def test_the_pattern_grows_with_the_screens_desktop_scaling() -> None:
    """Up to 1080p as before (20 px blocks, 8 px margin); 1.25x at 1440p and 2x at 4K, so that the
    blocks stay decodable when the agent scales a big screen down to the console."""
    assert [pattern.ui_scale(w, h) for w, h in ((1280, 720), (1920, 1080), (2560, 1440), (3840, 2160))] == [
        1.0, 1.0, 1.25, 2.0,
    ]  # fmt: skip
    for (w, h), size, margin in (((1920, 1080), 20, 8), ((2560, 1440), 25, 10), ((3840, 2160), 40, 16)):
        layout = pattern.Layout(w, h)
        assert (layout.size, layout.margin) == (size, margin)
        x, y, span_w, span_h = layout.span
        assert (x, y + span_h) == (margin, h - margin) and span_w == pattern.BLOCKS * size
        assert layout.block(1) == (x + size, y, size, size)
        assert layout.keys_y == y - size - margin
