"""Issue 18's scenarios in the bench: ``--burst`` and ``--readability`` reach the plan, their
results become the JSON sections targets.py judges, and an unmeasured scenario reads as such."""

from __future__ import annotations

from veo.bench.main import parser
from veo.bench.stream import runner, targets
from veo.bench.stream.burst import BurstResult
from veo.bench.stream.readability import ReadabilityResult, Score


def test_the_flags_are_off_unless_asked() -> None:
    args = parser().parse_args(["stream", "--burst", "--readability"])
    assert args.burst and args.readability
    plain = parser().parse_args(["stream"])
    assert not plain.burst and not plain.readability


def test_the_scenarios_results_become_sections_that_targets_judge() -> None:
    burst = BurstResult(
        "1920x1080", "poor", 2.0, before_median_ms=90.0, threshold_ms=120.0, recovery_ms=800.0
    )
    shown = Score(size=(1790, 1007), words=1817, recognised=0.93, mean_ncc=0.9, codes_recognised=0.91)
    readable = ReadabilityResult("3840x2160", "1920x1080", shown=shown, ideal_shown=shown)
    outcome = runner.Outcome([], [], [], [burst], [readable])
    sections = runner.scenario_sections(outcome)
    assert set(sections) == {"burst", "readability"}
    rows = {row.check: row for row in targets.scenario_rows(sections)}
    assert rows["poor link, after a 2-s burst"].met is True
    assert rows["readability"].met is True
    assert "93.0 % of 1817 words" in rows["readability"].figures


def test_a_run_without_the_scenarios_has_no_sections_and_says_not_measured() -> None:
    assert runner.scenario_sections(runner.Outcome([], [], [])) == {}
    rows = targets.scenario_rows({})
    assert [row.met for row in rows] == [None, None]
