"""The readability check's figures on pictures drawn here with the workload's font and layout:
the source scores 100 %, an ideal downscale to a console's fit size nearly so, a blurred picture
far less; and the layout holds every vocabulary word."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from veo.bench.stream.readability import (
    PIXELS,
    ReadabilityResult,
    cells,
    gray,
    scale_area,
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


def test_target_rows_judge_the_shown_picture() -> None:
    entry = ReadabilityResult("3840x2160", "1920x1080")
    (row,) = target_rows([entry.as_json()])
    assert row.met is None and "not measured" in row.figures
    good = {
        "recognised": 0.97,
        "codes_recognised": 0.92,
        "words": 1817,
        "mean_ncc": 0.95,
        "size": [1790, 1007],
    }
    bad = {**good, "recognised": 0.5}
    blurred_glyphs = {**good, "codes_recognised": 0.6}  # words told apart by shape, not the glyphs
    rows = target_rows(
        [
            {**entry.as_json(), "shown": good, "ideal_shown": good},
            {**entry.as_json(), "shown": bad, "ideal_shown": good},
            {**entry.as_json(), "shown": blurred_glyphs, "ideal_shown": good},
        ]
    )
    assert [r.met for r in rows] == [True, False, False]
    assert "97.0 % of 1817 words recognised, codes 92.0 %, at 1790x1007" in rows[0].figures
