"""The readability check's figures on pictures drawn here with the workload's font and layout:
the source scores 100 %, an ideal downscale to a console's fit size nearly so, a blurred picture
far less; the mark holds a picture to the ideal of its size, so a blurred or over-compressed one
fails it; and the layout holds every vocabulary word."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from veo.bench.stream.readability import (
    PIXELS,
    ReadabilityResult,
    cells,
    gray,
    recognisable,
    scale_area,
    scale_lanczos,
    score,
    target_rows,
    vocabulary,
)

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
W, H = 1920, 1080


@pytest.fixture(scope="module")
def page() -> Image.Image:
    if not FONT.exists():
        pytest.skip("DejaVu Sans (fonts-dejavu-core) is not installed")
    image = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), PIXELS)
    for cell in cells(W, H):
        draw.text((cell.x, cell.y), cell.word, font=font, fill="black")
    return image


def test_the_layout_holds_every_word_and_stays_clear_of_the_pattern_corner() -> None:
    layout = cells(3840, 2160)
    assert {c.word for c in layout} == set(vocabulary()) and len(vocabulary()) == 64
    assert len(layout) > 1500
    assert all(c.y < 2160 - 150 for c in layout)  # the timestamp pattern sits in the last 28 rows


def test_the_source_scores_everything_and_an_ideal_half_size_nearly(page: Image.Image) -> None:
    source = gray(np.asarray(page))
    layout = cells(W, H)
    itself = score(source, source, layout)
    assert itself.recognised == 1.0 and itself.mean_ncc == pytest.approx(1.0, abs=1e-4)
    half = score(scale_area(source, W // 2, H // 2), source, layout)
    assert half.size == (W // 2, H // 2)
    assert half.recognised > 0.9 and half.mean_ncc > 0.99


def test_code_twins_differ_by_one_confusable_glyph() -> None:
    codes = vocabulary()[32:]
    for first, second in zip(codes[::2], codes[1::2], strict=True):
        assert len(first) == len(second) == 6
        assert sum(a != b for a, b in zip(first, second, strict=True)) == 1


def test_a_blurred_picture_loses_words_and_fidelity(page: Image.Image) -> None:
    source = gray(np.asarray(page))
    blurred = gray(np.asarray(page.filter(ImageFilter.GaussianBlur(2.5)).resize((W // 2, H // 2))))
    result = score(blurred, source, cells(W, H))
    assert result.recognised < 0.6 and result.codes_recognised < 0.6 and result.mean_ncc < 0.9
    assert result.confusions and result.confusions[0][2] >= 1


def test_a_blurred_or_over_compressed_picture_fails_the_mark_a_good_downscale_meets_it(
    page: Image.Image,
) -> None:
    """At the 4K fit ratio (0.396: 760x428 of this 1920x1080 page) the mark is the ideal Lanczos
    downscale's figures less BELOW_IDEAL: a plain bilinear downscale meets it; a 0.7-px blur after
    the ideal downscale, or the ideal downscale as a JPEG of quality 30, loses more words than that."""
    source, layout, size = gray(np.asarray(page)), cells(W, H), (760, 428)
    ideal = score(scale_lanczos(source, *size), source, layout)
    assert recognisable(ideal.__dict__, ideal.__dict__)
    bilinear = score(gray(np.asarray(page.resize(size, Image.Resampling.BILINEAR))), source, layout)
    assert recognisable(bilinear.__dict__, ideal.__dict__)
    sharp = page.resize(size, Image.Resampling.LANCZOS)
    blurred = score(gray(np.asarray(sharp.filter(ImageFilter.GaussianBlur(0.7)))), source, layout)
    jpeg = io.BytesIO()
    sharp.save(jpeg, "JPEG", quality=30)
    compressed = score(gray(np.asarray(Image.open(jpeg).convert("RGB"))), source, layout)
    for bad in (blurred, compressed):
        assert not recognisable(bad.__dict__, ideal.__dict__)
        assert bad.recognised < ideal.recognised - 0.04  # by a margin, not by the noise


def test_target_rows_judge_the_shown_picture_against_the_ideal_of_its_size() -> None:
    entry = ReadabilityResult("3840x2160", "1920x1080")
    (row,) = target_rows([entry.as_json()])
    assert row.met is None and "not measured" in row.figures
    ideal = {
        "recognised": 0.883,
        "codes_recognised": 0.794,
        "words": 1817,
        "mean_ncc": 0.93,
        "size": [1520, 854],
    }
    good = {**ideal, "recognised": 0.869, "codes_recognised": 0.788}  # the stream, bilinear
    blurred_words = {**good, "recognised": 0.85}  # 3.3 points below the ideal
    blurred_glyphs = {**good, "codes_recognised": 0.76}  # words told apart by shape, not the glyphs
    small = {**ideal, "recognised": 0.79, "codes_recognised": 0.69}  # under the floors
    rows = target_rows(
        [
            {**entry.as_json(), "shown": good, "ideal_lanczos": ideal},
            {**entry.as_json(), "shown": blurred_words, "ideal_lanczos": ideal},
            {**entry.as_json(), "shown": blurred_glyphs, "ideal_lanczos": ideal},
            {**entry.as_json(), "shown": small, "ideal_lanczos": small},
            {**entry.as_json(), "shown": good},  # a run before the Lanczos figure: the fixed 90 %
            {**entry.as_json(), "shown": {**good, "recognised": 0.95, "codes_recognised": 0.92}},
        ]
    )
    assert [r.met for r in rows] == [True, False, False, False, False, True]
    assert "86.9 % of 1817 words recognised, codes 78.8 %, at 1520x854" in rows[0].figures
    assert "an ideal Lanczos downscale: 88.3 %, codes 79.4 %" in rows[0].figures
