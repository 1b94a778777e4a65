"""Colour: the conversion's matrix and range, and the H.264 stream saying exactly those (its VUI).

A mismatch is what showed magenta 230,40,160 as 245,65,161: converted with BT.601, the stream
signalled nothing, and Chromium decoded it as BT.709. The SPS is parsed here bit by bit from the
encoder's real output (ITU-T H.264 7.3.2.1.1 and E.1.1), not taken from our own settings.
"""

from __future__ import annotations

import fractions

import av
import numpy as np
import numpy.typing as npt
import pytest

from veo.agent import convert, low_latency
from veo.agent.capture.base import Size
from veo.agent.convert import YuvCanvas
from veo.agent.damage import Rect
from veo.agent.frame_note import FrameNote

MAGENTA = (230, 40, 160)


def _bt601_limited(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """Rec. ITU-R BT.601 with studio range, from the standard's coefficients."""
    r, g, b = (c / 255 for c in rgb)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return 16 + 219 * y, 128 + 224 * (b - y) / 1.772, 128 + 224 * (r - y) / 1.402


def _screen(rgb: tuple[int, int, int], width: int = 64, height: int = 48) -> np.ndarray:
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2], pixels[..., 3] = rgb[2], rgb[1], rgb[0], 255
    return pixels.view(np.uint32).reshape(height, width)


@pytest.mark.parametrize(
    "rgb", [MAGENTA, (255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128), (250, 250, 250)]
)
@pytest.mark.parametrize("whole", [True, False])
@pytest.mark.usefixtures("unscaled_converter")
def test_conversion_is_bt601_limited_range(rgb: tuple[int, int, int], whole: bool) -> None:
    canvas = YuvCanvas(Size(64, 48))
    rect = Rect(0, 0, 64, 48) if whole else Rect(8, 8, 16, 16)  # a patch takes the other path
    canvas.update(_screen(rgb), [rect])
    planes = canvas.frame.to_ndarray()  # yuv420p: Y rows, then U and V packed below, 2 rows a row
    # pixel (10, 10): chroma sample (5, 5) = U/V index 5 * 32 + 5 = 165 -> packed row 2, column 37
    y, u, v = int(planes[10, 10]), int(planes[48 + 2, 37]), int(planes[48 + 12 + 2, 37])
    want = _bt601_limited(rgb)
    assert abs(y - want[0]) <= 1 and abs(u - want[1]) <= 1 and abs(v - want[2]) <= 1, ((y, u, v), want)


def test_magenta_was_what_a_bt709_decoder_made_of_bt601() -> None:
    """The reported symptom, reproduced: our BT.601 magenta read with BT.709 is 245,65,161."""
    y, u, v = _bt601_limited(MAGENTA)
    luma = 255 / 219 * (y - 16)
    r = luma + 255 / 224 * 1.5748 * (v - 128)
    g = luma - 255 / 224 * (0.1873 * (u - 128) + 0.4681 * (v - 128))
    b = luma + 255 / 224 * 1.8556 * (u - 128)
    assert [round(c) for c in (r, g, b)] == pytest.approx([245, 65, 161], abs=1)


class _Bits:
    """An RBSP read MSB first (emulation-prevention bytes already removed)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = value << 1 | (self.data[self.pos // 8] >> (7 - self.pos % 8)) & 1
            self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.u(zeros)


def _rbsp(nal: bytes) -> bytes:
    out, zeros = bytearray(), 0
    for byte in nal[1:]:  # after the NAL header
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _vui(sps: bytes) -> dict[str, int]:
    """The signal-type fields of a Baseline-profile SPS's VUI."""
    bits = _Bits(_rbsp(sps))
    profile = bits.u(8)
    assert profile == 66, "the agent streams Baseline (no chroma_format_idc fields to skip)"
    bits.u(16)  # constraint flags, reserved bits, level
    bits.ue()  # seq_parameter_set_id
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    assert poc_type in (0, 2)
    bits.ue()  # max_num_ref_frames
    bits.u(1)
    bits.ue()  # width in macroblocks - 1
    bits.ue()  # height in map units - 1
    if not bits.u(1):  # frame_mbs_only_flag
        bits.u(1)
    bits.u(1)  # direct_8x8_inference_flag
    if bits.u(1):  # frame_cropping_flag
        for _ in range(4):
            bits.ue()
    assert bits.u(1), "the SPS carries no VUI: the decoder must guess the colour matrix"
    if bits.u(1) and bits.u(8) == 255:  # aspect_ratio_info_present_flag, then aspect_ratio_idc
        bits.u(32)
    if bits.u(1):  # overscan_info_present_flag
        bits.u(1)
    fields: dict[str, int] = {}
    if bits.u(1):  # video_signal_type_present_flag
        fields["video_format"] = bits.u(3)
        fields["full_range"] = bits.u(1)
        if bits.u(1):  # colour_description_present_flag
            fields["primaries"], fields["transfer"], fields["matrix"] = bits.u(8), bits.u(8), bits.u(8)
    if bits.u(1):  # chroma_loc_info_present_flag
        fields["chroma_loc_top"], fields["chroma_loc_bottom"] = bits.ue(), bits.ue()
    return fields


def _sps_of_first_frame(scaled: bool = False) -> bytes:
    encoder = low_latency.ScreenH264Encoder()
    frame = av.VideoFrame(320, 240, "yuv420p")
    frame.pts = 0
    frame.time_base = fractions.Fraction(1, 90000)
    frame.opaque = FrameNote(scaled=scaled)  # what the track says of a scaled-down screen
    nals = list(encoder._encode_frame(frame, True))
    return next(nal for nal in nals if nal[0] & 0x1F == 7)


@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.usefixtures("unscaled_converter")
def test_h264_signals_the_conversion_in_its_vui(scaled: bool) -> None:
    vui = _vui(_sps_of_first_frame(scaled))
    assert vui.get("full_range") == 0  # limited range, as converted
    assert vui.get("matrix") == int(convert.COLORSPACE) == 5  # BT.601 (BT.470BG coefficients)
    assert vui.get("primaries") == 1  # sRGB's primaries are BT.709's
    assert vui.get("transfer") == 13  # IEC 61966-2-1: sRGB
    location = convert.chroma_location(scaled)
    assert location == (convert.SCALED_CHROMA_LOCATION if scaled else _unscaled_location())
    assert vui.get("chroma_loc_top") == vui.get("chroma_loc_bottom") == location


def _unscaled_location() -> int:
    return convert.CHROMA_LOCATION if convert.native is None else convert.NATIVE_CHROMA_LOCATION


def _red_shares() -> dict[tuple[int, int], float]:
    """How much of one red pixel per 2×2 block, in each of its four places, the block's V takes."""
    shares = {}
    for dy in (0, 1):
        for dx in (0, 1):
            pixels = np.zeros((16, 16, 4), np.uint8)
            pixels[..., 3] = 255
            pixels[dy::2, dx::2, 2] = 255
            canvas = YuvCanvas(Size(16, 16))
            canvas.update(pixels.view(np.uint32).reshape(16, 16), [Rect(0, 0, 16, 16)])
            v = int(canvas.frame.to_ndarray()[16 + 4, 0])  # first V sample
            full_red = _bt601_limited((255, 0, 0))[2]
            shares[(dy, dx)] = round((v - 128) / (full_red - 128), 2)
    return shares


@pytest.mark.usefixtures("swscale_only")
def test_the_chroma_location_is_where_the_conversion_takes_it() -> None:
    """swscale: only the lower row counts, its two pixels half each (H.264's chroma sample
    location type 5)."""
    assert convert.CHROMA_LOCATION == 5 == convert.chroma_location(scaled=False)
    assert _red_shares() == {(0, 0): 0.0, (0, 1): 0.0, (1, 0): 0.5, (1, 1): 0.5}


def test_libyuv_takes_chroma_from_the_whole_block(native_converter: object) -> None:
    """libyuv: the four pixels a quarter each, the block's centre (type 1)."""
    assert convert.NATIVE_CHROMA_LOCATION == 1 == convert.chroma_location(scaled=False)
    assert _red_shares() == {(0, 0): 0.25, (0, 1): 0.25, (1, 0): 0.25, (1, 1): 0.25}


#: H.264's chroma sample location types (Figure E-1): where the chroma sample of a 2×2 block sits,
#: in luma pixels from the block's first column and first row
_LOCATIONS = {0: (0.0, 0.5), 1: (0.5, 0.5), 2: (0.0, 0.0), 3: (0.5, 0.0), 4: (0.0, 1.0), 5: (0.5, 1.0)}


def _plane(frame: av.VideoFrame, index: int) -> npt.NDArray[np.float64]:
    plane = frame.planes[index]
    rows = np.frombuffer(bytes(plane), np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width].astype(np.float64)


def _halfway(profile: npt.NDArray[np.float64]) -> float:
    """Where a step profile crosses halfway between its two ends (in samples, interpolated)."""
    middle = float(profile[0] + profile[-1]) / 2
    above = profile > middle if profile[-1] > profile[0] else profile < middle
    at = int(np.argmax(above)) - 1
    low, high = float(profile[at]), float(profile[at + 1])
    return at + (middle - low) / (high - low)


def _scaled_siting(source: Size, size: Size, axis: int) -> float:
    """Where a scaled conversion sites chroma along ``axis`` (0: rows, 1: columns), in luma pixels
    from the 2×2 block's first one: grey/red steps at many source positions, each step's halfway
    point found in luma and in chroma (the same filter blurs both alike), the median offset."""
    offsets = []
    for edge in range(source.height // 3, source.height // 3 + 30, 3):
        pixels = np.zeros((source.height, source.width, 4), np.uint8)
        pixels[..., :3], pixels[..., 3] = 128, 255
        red = pixels[edge:] if axis == 0 else pixels[:, edge:]
        red[..., 0], red[..., 1], red[..., 2] = 0, 0, 255
        canvas = YuvCanvas(size, source)
        canvas.update(
            pixels.view(np.uint32).reshape(source.height, source.width),
            [Rect(0, 0, source.width, source.height)],
        )
        luma, chroma = _plane(canvas.frame, 0), _plane(canvas.frame, 2)  # V: red
        if axis == 0:
            luma_step, chroma_step = _halfway(luma[:, size.width // 3]), _halfway(chroma[:, size.width // 6])
        else:
            luma_step, chroma_step = _halfway(luma[size.height // 3]), _halfway(chroma[size.height // 6])
        offsets.append(luma_step - 2 * chroma_step)
    return float(np.median(offsets))


@pytest.mark.parametrize(
    ("source", "size"), [(Size(960, 540), Size(760, 428)), (Size(1280, 720), Size(640, 360))]
)
def test_a_scaled_pictures_chroma_sits_where_the_stream_says(source: Size, size: Size) -> None:
    """swscale's scaled conversion sites chroma at the centre of each 2×2 block (type 1), not
    where the unscaled one takes it (the lower row, type 5): the SPS of a scaled stream must say
    the location measured here (a wrong mark shifts a scaled picture's colour half a luma pixel)."""
    measured = (_scaled_siting(source, size, 1), _scaled_siting(source, size, 0))
    nearest = min(
        _LOCATIONS, key=lambda t: abs(_LOCATIONS[t][0] - measured[0]) + abs(_LOCATIONS[t][1] - measured[1])
    )
    assert max(abs(a - b) for a, b in zip(_LOCATIONS[nearest], measured, strict=True)) < 0.15, measured
    vui = _vui(_sps_of_first_frame(scaled=True))
    assert vui.get("chroma_loc_top") == vui.get("chroma_loc_bottom") == nearest


@pytest.mark.parametrize(("converter", "siting"), [("swscale", (0.5, 1.0)), ("libyuv", (0.5, 0.5))])
def test_an_unscaled_pictures_chroma_sits_where_the_stream_says(
    converter: str, siting: tuple[float, float], request: pytest.FixtureRequest
) -> None:
    """The unscaled conversions: swscale's (point) the lower row, its two pixels; libyuv's the
    whole block (the tests above measure them); the SPS of an unscaled stream says which."""
    request.getfixturevalue("swscale_only" if converter == "swscale" else "native_converter")
    vui = _vui(_sps_of_first_frame(scaled=False))
    assert _LOCATIONS[vui["chroma_loc_top"]] == siting
