"""The wiring of ``veo bench stream --readability`` and ``--burst``: their screens, without a session.

Each scenario needs a veo session (a minute or more at 4K), too long for ``make bench-smoke``; this
checks in seconds what they stand on: the workload's ``text`` page, drawn on the bench's Xvfb at
3840x2160 and grabbed the way the scenario grabs its source, scores every word at 1:1, nine in ten
at half size, and at a console's fit size confuses only the one-glyph code twins (so a low figure
in a run is the stream's, not the page's or the scorer's); the ``burst`` mode reports its start
and end on the wall clock, in order.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator

import pytest

from veo.bench.stream.burst import burst_times
from veo.bench.stream.display import Display
from veo.bench.stream.lab import Lab
from veo.bench.stream.procs import Processes
from veo.bench.stream.readability import SCREEN, cells, grab_screen, gray, scale_area, score
from veo.bench.stream.runner import WorkloadOutput

from .bench_support import bench_lab
from .conftest import _unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture
def screen() -> Iterator[tuple[Lab, Processes, Display]]:
    if os.geteuid() != 0:
        _unavailable("root (to create network namespaces)")
    with bench_lab("scen", "s") as (lab, procs, _workdir):
        yield lab, procs, Display(lab, procs, *SCREEN)


def _workload(lab: Lab, procs: Processes, display: Display, *args: str) -> WorkloadOutput:
    argv = [sys.executable, "-m", "veo.bench.stream.workload", *args]
    output = WorkloadOutput(procs.start(f"workload-{args[0]}", lab.in_user(argv), env=display.env(),
                                        stdout_pipe=True))  # fmt: skip
    output.ready(60)
    return output


def test_the_word_page_scores_all_words_at_1_1_and_only_twins_blur_at_fit(
    screen: tuple[Lab, Processes, Display],
) -> None:
    lab, procs, display = screen
    _workload(lab, procs, display, "text", str(display.width), str(display.height))
    time.sleep(1.0)  # drawn once after ready; nothing changes after
    source = gray(grab_screen(display))
    layout = cells(display.width, display.height)
    assert score(source, source, layout).recognised == 1.0
    half = score(scale_area(source, 1920, 1080), source, layout)
    assert half.recognised > 0.9, half.confusions
    # at a console's fit size (0.47x) what blurs is one glyph of a code twin, never a word's shape
    fit = score(scale_area(source, 1790, 1007), source, layout)
    for shown, taken, _ in fit.confusions:
        assert len(shown) == len(taken) == 6 and sum(a != b for a, b in zip(shown, taken, strict=True)) == 1


def test_the_burst_mode_reports_its_start_and_end(screen: tuple[Lab, Processes, Display]) -> None:
    lab, procs, display = screen
    output = _workload(
        lab, procs, display, "burst", "1920", "1080", "--burst-at", "0.3", "--burst-seconds", "0.5"
    )
    start = end = None
    for _ in range(100):  # bounded: 10 s at most
        output.steps()
        start, end = burst_times(output.lines)
        if end is not None:
            break
        time.sleep(0.1)
    assert start is not None and end is not None and end > start


def test_a_typed_letter_and_the_pattern_are_repainted_apart(screen: tuple[Lab, Processes, Display]) -> None:
    """The typing scene's letter (near the top) and the timestamp pattern (bottom left) reach X
    as small rectangles of their own: drawn on one canvas, Tk repainted the box between them
    (1,794 rows at 4K, 7.5-27 MB a letter), which no editor does and which only a capture driven
    by X's damage pays for."""
    from veo.agent.damage import DamageRegions

    lab, procs, display = screen
    output = _workload(lab, procs, display, "typing", str(display.width), str(display.height))
    damage = DamageRegions(display.name)
    try:
        damage.take()  # what was drawn before the typing started
        tallest, typed = 0, 0
        for _ in range(50):  # bounded: 5 s at most; a letter every 0.125 s
            time.sleep(0.1)
            tallest = max([tallest, *(rect.height for rect in damage.take())])
            progress = output.steps()
            typed = progress[0] if progress else 0
            if typed >= 12:
                break
    finally:
        damage.close()
    assert typed >= 12, f"the typing scene typed {typed} letters"
    assert 0 < tallest < display.height // 8, f"a repaint {tallest} rows tall"
